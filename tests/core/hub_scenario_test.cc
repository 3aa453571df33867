// A scripted day on the hub: three users, two tabs each, reloads, a crash,
// privacy changes. After each step every connection must have received
// exactly the frames DESIGN.md implies, byte for byte, and nothing else.

#include <gtest/gtest.h>

#include "hub_support.h"

namespace presence {
namespace {

using testing::HubDriver;

constexpr int64_t kDay = 1'780'300'800'000;  // 2026-06-01T08:00:00Z
constexpr int64_t kMin = 60'000;

class ScriptedDay : public ::testing::Test {
 protected:
  ScriptedDay() : d(HubConfig{}, kDay) {
    // alice shows everything to everyone; bob only to contacts (alice);
    // carol shows status to everyone but last seen and activity to nobody.
    d.env.store["alice"].settings = {
        Visibility::kEveryone, Visibility::kEveryone, Visibility::kEveryone};
    d.env.store["bob"].settings = {Visibility::kContacts, Visibility::kContacts,
                                   Visibility::kContacts};
    d.env.store["bob"].contacts = {"alice"};
    d.env.store["carol"].settings = {Visibility::kEveryone, Visibility::kNobody,
                                     Visibility::kNobody};
  }

  // The frames `conn` got since the last call, then forgets them.
  std::vector<std::string> Got(ConnId conn) {
    std::vector<std::string> raw = d.inbox(conn).raw;
    d.inbox(conn).raw.clear();
    d.inbox(conn).frames.clear();
    return raw;
  }

  static std::string Bulk(const std::string& views) {
    return R"({"type":"presence_bulk","updates":[)" + views + "]}";
  }

  HubDriver d;
  using Frames = std::vector<std::string>;
};

TEST_F(ScriptedDay, EveryViewerGetsExactlyTheFramesTheRulesImply) {
  // 08:00 alice opens the app on the web and watches bob and carol.
  ConnId a1 = d.Connect("alice", Device::kWeb);
  const std::string a1_session = d.Welcome(a1).session;
  ASSERT_EQ(Got(a1).size(), 1u);  // welcome
  d.Subscribe(a1, {"bob", "carol"});
  EXPECT_EQ(Got(a1), Frames{Bulk(R"({"userId":"bob"},{"userId":"carol"})")});

  // 08:01 bob on his desktop.
  d.AdvanceTo(kDay + 1 * kMin);
  ConnId b1 = d.Connect("bob", Device::kDesktop);
  Got(b1);
  d.Subscribe(b1, {"alice", "carol"});
  EXPECT_EQ(
      Got(b1),
      Frames{Bulk(R"({"userId":"alice","status":"online","device":"web"},)"
                  R"({"userId":"carol"})")});
  d.Flush();
  EXPECT_EQ(
      Got(a1),
      Frames{Bulk(R"({"userId":"bob","status":"online","device":"desktop"})")});

  // 08:02 carol on her phone: bob hides from her, she shows to everyone.
  d.AdvanceTo(kDay + 2 * kMin);
  ConnId c1 = d.Connect("carol", Device::kMobile);
  Got(c1);
  d.Subscribe(c1, {"alice", "bob"});
  EXPECT_EQ(
      Got(c1),
      Frames{Bulk(R"({"userId":"alice","status":"online","device":"web"},)"
                  R"({"userId":"bob"})")});
  d.Flush();
  const std::string carol_on =
      R"({"userId":"carol","status":"online","device":"mobile"})";
  EXPECT_EQ(Got(a1), Frames{Bulk(carol_on)});
  EXPECT_EQ(Got(b1), Frames{Bulk(carol_on)});

  // 08:05 everyone opens a second tab; alice's is on her phone and is now
  // her most recently active session.
  d.AdvanceTo(kDay + 5 * kMin);
  ConnId a2 = d.Connect("alice", Device::kMobile);
  ConnId b2 = d.Connect("bob", Device::kDesktop);
  ConnId c2 = d.Connect("carol", Device::kMobile);
  Got(a2), Got(b2), Got(c2);
  d.Flush();
  const std::string alice_mobile =
      R"({"userId":"alice","status":"online","device":"mobile"})";
  EXPECT_EQ(Got(b1), Frames{Bulk(alice_mobile)});
  EXPECT_EQ(Got(c1), Frames{Bulk(alice_mobile)});
  EXPECT_EQ(Got(a1), Frames{});  // bob and carol: same device, no change

  // 08:10 alice types to bob on the web: everyone may see her activity.
  d.AdvanceTo(kDay + 10 * kMin);
  d.Send(a1, ActivityFrame{Activity::Typing("c-bob")});
  d.Flush();
  const std::string alice_typing =
      R"({"userId":"alice","status":"online","device":"web",)"
      R"("activity":{"type":"typing","conversationId":"c-bob"}})";
  EXPECT_EQ(Got(b1), Frames{Bulk(alice_typing)});
  EXPECT_EQ(Got(c1), Frames{Bulk(alice_typing)});
  // ...and stops: the activity clears activityTtlMs later.
  d.Advance(3000 + 50);
  const std::string alice_web =
      R"({"userId":"alice","status":"online","device":"web"})";
  EXPECT_EQ(Got(b1), Frames{Bulk(alice_web)});
  EXPECT_EQ(Got(c1), Frames{Bulk(alice_web)});

  // 08:15 bob types: only his contact alice may know.
  d.AdvanceTo(kDay + 15 * kMin);
  d.Send(b1, ActivityFrame{Activity::Typing("c-alice")});
  d.Advance(3000 + 50);
  EXPECT_EQ(
      Got(a1),
      (Frames{
          Bulk(R"({"userId":"bob","status":"online","device":"desktop",)"
               R"("activity":{"type":"typing","conversationId":"c-alice"}})"),
          Bulk(R"({"userId":"bob","status":"online","device":"desktop"})")}));
  EXPECT_EQ(Got(c1), Frames{});  // hidden from carol: not even a frame

  // 08:20 carol is busy: she shows activity to nobody, so nobody hears.
  d.AdvanceTo(kDay + 20 * kMin);
  d.Send(c1, ActivityFrame{Activity::Busy("in a meeting")});
  d.Advance(3000 + 50);
  EXPECT_EQ(Got(a1), Frames{});
  EXPECT_EQ(Got(b1), Frames{});

  // 08:30 alice reloads her web tab: a clean close and a resume within the
  // leave grace. Nobody sees her leave; her new socket re-subscribes.
  d.AdvanceTo(kDay + 30 * kMin);
  d.Close(a1);
  d.Advance(1200);
  a1 = d.Connect("alice", Device::kWeb, a1_session);
  EXPECT_EQ(d.Welcome(a1).session, a1_session);
  Got(a1);
  d.Subscribe(a1, {"bob", "carol"}, /*replace=*/true);
  EXPECT_EQ(
      Got(a1),
      Frames{Bulk(R"({"userId":"bob","status":"online","device":"desktop"},)" +
                  carol_on)});
  d.Advance(10'000);
  EXPECT_EQ(Got(b1), Frames{});
  EXPECT_EQ(Got(c1), Frames{});

  // 09:00 bob's desktop crashes: both his tabs go silent at once (no FIN,
  // no pongs). They are dead after 2 x pingMs, with no leave grace.
  d.AdvanceTo(kDay + 60 * kMin);
  d.Send(b1, HeartbeatFrame{});
  d.Send(b2, HeartbeatFrame{});
  const int64_t bob_heard = d.now;
  for (ConnId c : {b1, b2}) {
    d.answering.erase(c);
    d.heartbeating.erase(c);
  }
  d.Advance(2 * d.hub.config().ping_ms + d.hub.config().flush_ms);
  EXPECT_EQ(Got(a1),
            Frames{Bulk(R"({"userId":"bob","status":"offline","lastSeen":)" +
                        std::to_string(bob_heard) + "}")});
  EXPECT_EQ(Got(c1), Frames{});  // bob's status is hidden from carol
  EXPECT_EQ(d.env.store["bob"].last_seen_ms, bob_heard);

  // 09:30 carol hides her status from everyone: it reaches viewers at once.
  d.AdvanceTo(kDay + 90 * kMin);
  d.hub.UpdateSettings(
      "carol", {Visibility::kNobody, Visibility::kNobody, Visibility::kNobody},
      d.now);
  d.Flush();
  EXPECT_EQ(Got(a1), Frames{Bulk(R"({"userId":"carol"})")});

  // 10:00 alice hides her web tab; her phone keeps her online (and names
  // the device). Then the phone locks too: away.
  d.AdvanceTo(kDay + 120 * kMin);
  d.SetStatus(a1, Status::kAway);
  d.Flush();
  // Still online, but the winning session is now the phone's.
  EXPECT_EQ(Got(c1), Frames{Bulk(alice_mobile)});
  d.SetStatus(a2, Status::kAway);
  d.Flush();
  EXPECT_EQ(
      Got(c1),
      Frames{Bulk(R"({"userId":"alice","status":"away","device":"mobile"})")});

  // 12:00 bob is back on his phone.
  d.AdvanceTo(kDay + 240 * kMin);
  ConnId b3 = d.Connect("bob", Device::kMobile);
  Got(b3);
  d.Flush();
  EXPECT_EQ(
      Got(a1),
      Frames{Bulk(R"({"userId":"bob","status":"online","device":"mobile"})")});
  EXPECT_EQ(Got(c1), Frames{});

  // 18:00 alice leaves: pagehide sends offline on one tab, the other tab
  // closes. After the grace she is offline, last seen at the close.
  d.AdvanceTo(kDay + 600 * kMin);
  d.SetStatus(a1, Status::kOffline);
  d.Close(a1);
  d.Advance(500);
  const int64_t alice_left = d.now;
  d.Close(a2);
  d.Flush();
  EXPECT_EQ(Got(c1), Frames{});  // the grace: nothing yet
  d.Advance(d.hub.config().leave_grace_ms);
  EXPECT_EQ(Got(c1),
            Frames{Bulk(R"({"userId":"alice","status":"offline","lastSeen":)" +
                        std::to_string(alice_left) + "}")});
  EXPECT_EQ(d.env.store["alice"].last_seen_ms, alice_left);
  // Nobody else got anything they should not have.
  EXPECT_EQ(Got(b2), Frames{});
  EXPECT_EQ(Got(c2), Frames{});
  EXPECT_EQ(Got(b3), Frames{});
}

}  // namespace
}  // namespace presence
