// What nodes say to each other: every message round-trips, and anything
// malformed is refused whole (Redis is shared; nothing half applies).

#include "cluster_message.h"

#include <gtest/gtest.h>

namespace presence::server {
namespace {

NodeShare FullShare() {
  NodeShare s;
  s.user_id = "bob";
  s.status = Status::kAway;
  s.device = Device::kDesktop;
  s.last_active_ms = 1'780'300'800'000;
  s.activity = Activity::Typing("room-1 \xc3\xa9");
  s.activity_at_ms = 1'780'300'800'123;
  s.sessions = {{"0a1b", 1}, {"ffee", 7}};
  return s;
}

ClusterMessage Decoded(const std::string& text) {
  std::string error;
  std::optional<ClusterMessage> m = DecodeMessage(text, &error);
  EXPECT_TRUE(m.has_value()) << text << ": " << error;
  return m.value_or(ClusterMessage{});
}

std::string Refused(const std::string& text) {
  std::string error;
  EXPECT_FALSE(DecodeMessage(text, &error).has_value()) << text;
  return error;
}

TEST(ClusterMessageTest, SharesRoundTrip) {
  NodeShare full = FullShare();
  EXPECT_EQ(DecodeShare(EncodeShare(full)), full);
  NodeShare removal;
  removal.user_id = "carol";
  removal.last_seen_ms = 42;
  EXPECT_EQ(DecodeShare(EncodeShare(removal)), removal);
}

TEST(ClusterMessageTest, EveryMessageTypeRoundTrips) {
  ClusterMessage share{ClusterMessage::Type::kShare, "n-1"};
  share.share = FullShare();
  ClusterMessage m = Decoded(EncodeMessage(share));
  EXPECT_EQ(m.type, ClusterMessage::Type::kShare);
  EXPECT_EQ(m.node, "n-1");
  EXPECT_EQ(m.share, FullShare());

  for (auto type : {ClusterMessage::Type::kAlive, ClusterMessage::Type::kSync,
                    ClusterMessage::Type::kBye}) {
    ClusterMessage plain{type, "n-2"};
    EXPECT_EQ(Decoded(EncodeMessage(plain)).type, type);
  }

  ClusterMessage settings{ClusterMessage::Type::kSettings, "n-3"};
  settings.user_id = "bob";
  settings.settings = {Visibility::kNobody, Visibility::kEveryone,
                       Visibility::kContacts};
  m = Decoded(EncodeMessage(settings));
  EXPECT_EQ(m.user_id, "bob");
  EXPECT_EQ(m.settings, settings.settings);

  ClusterMessage contacts{ClusterMessage::Type::kContacts, "n-3"};
  contacts.user_id = "bob";
  contacts.contacts = {"alice", "dave"};
  EXPECT_EQ(Decoded(EncodeMessage(contacts)).contacts, contacts.contacts);
}

TEST(ClusterMessageTest, MalformedMessagesAreRefusedWhole) {
  EXPECT_EQ(Refused("not json"), "not a JSON object");
  EXPECT_EQ(Refused(R"({"t":"alive"})"), "n: not a node id");
  EXPECT_EQ(Refused(R"({"t":"alive","n":"bad id"})"), "n: not a node id");
  EXPECT_EQ(Refused(R"({"t":"hello","n":"n"})"), "t: unknown type");
  EXPECT_EQ(Refused(R"({"t":"share","n":"n"})"), "s: not a valid share");
  EXPECT_EQ(
      Refused(
          R"({"t":"settings","n":"n","u":"b","s":{"showOnlineStatus":"all","showLastSeen":"nobody","showActivity":"nobody"}})"),
      "s: not valid settings");
  EXPECT_EQ(Refused(R"({"t":"contacts","n":"n","u":"b","c":["ok","not ok"]})"),
            "c: not a contact list");
  EXPECT_EQ(Refused(R"({"t":"contacts","n":"n","u":"","c":[]})"),
            "u: not a user id");
}

TEST(ClusterMessageTest, MalformedSharesAreRefused) {
  const std::string ok =
      R"({"u":"bob","st":"online","d":"web","a":1,"at":0,"ss":[["s1",1]]})";
  ASSERT_TRUE(DecodeShare(ok).has_value());
  for (
      const char* bad : {
          R"({"st":"online","d":"web","a":1,"at":0,"ss":[]})",
          R"({"u":"bob","st":"busy","d":"web","a":1,"at":0,"ss":[]})",
          R"({"u":"bob","d":"tv","a":1,"at":0,"ss":[]})",
          R"({"u":"bob","d":"web","a":-1,"at":0,"ss":[]})",
          R"({"u":"bob","d":"web","a":1,"at":0})",
          R"({"u":"bob","d":"web","a":1,"at":0,"ss":[["s 1",1]]})",
          R"({"u":"bob","d":"web","a":1,"at":0,"ss":[["s1",-1]]})",
          R"({"u":"bob","d":"web","a":1,"at":0,"ss":[],"ac":{"k":"idle","x":""}})",
          R"({"u":"bob","d":"web","a":1,"at":0,"ss":[],"ac":{"k":"typing"}})",
          R"({"u":"bob","d":"web","a":1,"at":0,"ss":[],"ls":"5"})",
      }) {
    EXPECT_FALSE(DecodeShare(bad).has_value()) << bad;
  }
  // Activity text must be valid UTF-8, as on the client's wire.
  EXPECT_FALSE(
      DecodeShare("{\"u\":\"bob\",\"d\":\"web\",\"a\":1,\"at\":0,\"ss\":[],"
                  "\"ac\":{\"k\":\"typing\",\"x\":\"\xff\"}}")
          .has_value());
}

}  // namespace
}  // namespace presence::server
