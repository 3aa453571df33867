#include "presence/privacy.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace presence {
namespace {

View UserOnly(std::string user_id) {
  View view;
  view.user_id = std::move(user_id);
  return view;
}

constexpr Visibility kVisibilities[] = {
    Visibility::kEveryone, Visibility::kContacts, Visibility::kNobody};
constexpr ViewerClass kViewers[] = {ViewerClass::kSelf, ViewerClass::kContact,
                                    ViewerClass::kOther};

PresenceState Full(Status status) {
  PresenceState state;
  state.user_id = "alice";
  state.status = status;
  state.last_seen_ms = 1'000;
  state.device = Device::kMobile;
  state.activity = Activity::Typing("c1");
  return state;
}

PrivacySettings Settings(Visibility status, Visibility last_seen,
                         Visibility activity) {
  PrivacySettings settings;
  settings.show_online_status = status;
  settings.show_last_seen = last_seen;
  settings.show_activity = activity;
  return settings;
}

// DESIGN.md "Privacy", restated as a literal table so the exhaustive test
// does not lean on Admits(): rows everyone/contacts/nobody, columns
// self/contact/other.
constexpr bool kMaySee[3][3] = {
    {true, true, true},    // everyone
    {true, true, false},   // contacts
    {true, false, false},  // nobody
};
bool MaySee(Visibility v, ViewerClass c) {
  return kMaySee[static_cast<int>(v)][static_cast<int>(c)];
}

TEST(PrivacyRule, AdmitsTable) {
  for (Visibility v : kVisibilities) {
    for (ViewerClass c : kViewers) {
      EXPECT_EQ(Admits(v, c), MaySee(v, c))
          << ToString(v) << " " << ToString(c);
    }
  }
}

TEST(PrivacyRule, ExhaustiveTable) {
  const std::optional<Status> statuses[] = {Status::kOnline, Status::kAway,
                                            Status::kOffline, std::nullopt};
  int cases = 0;
  for (Visibility show_status : kVisibilities) {
    for (Visibility show_last_seen : kVisibilities) {
      for (Visibility show_activity : kVisibilities) {
        const PrivacySettings settings =
            Settings(show_status, show_last_seen, show_activity);
        for (ViewerClass viewer : kViewers) {
          for (const std::optional<Status>& status : statuses) {
            for (bool has_activity : {false, true}) {
              for (bool has_last_seen : {false, true}) {
                for (bool has_device : {false, true}) {
                  PresenceState state;
                  state.user_id = "u-1";
                  state.status = status;
                  if (has_last_seen) state.last_seen_ms = 123'456;
                  if (has_device) state.device = Device::kDesktop;
                  if (has_activity) state.activity = Activity::Viewing("/p");

                  const bool status_shown =
                      status.has_value() && MaySee(show_status, viewer);
                  const bool connected =
                      status == Status::kOnline || status == Status::kAway;
                  const bool offline = status == Status::kOffline;

                  View expected = UserOnly("u-1");
                  if (status_shown) expected.status = status;
                  if (status_shown && offline && has_last_seen &&
                      MaySee(show_last_seen, viewer)) {
                    expected.last_seen_ms = 123'456;
                  }
                  if (status_shown && connected && has_device) {
                    expected.device = Device::kDesktop;
                  }
                  if (status_shown && connected && has_activity &&
                      MaySee(show_activity, viewer)) {
                    expected.activity = Activity::Viewing("/p");
                  }

                  const View got = Project(state, settings, viewer);
                  const std::string where =
                      std::string(ToString(show_status)) + "/" +
                      std::string(ToString(show_last_seen)) + "/" +
                      std::string(ToString(show_activity)) +
                      " viewer=" + std::string(ToString(viewer)) + " status=" +
                      (status ? std::string(ToString(*status)) : "never") +
                      " act=" + std::to_string(has_activity) +
                      " ls=" + std::to_string(has_last_seen) +
                      " dev=" + std::to_string(has_device);
                  EXPECT_EQ(got.user_id, expected.user_id) << where;
                  EXPECT_EQ(got.status, expected.status) << where;
                  EXPECT_EQ(got.last_seen_ms, expected.last_seen_ms) << where;
                  EXPECT_EQ(got.device, expected.device) << where;
                  EXPECT_EQ(got.activity, expected.activity) << where;
                  // Whatever is hidden, nothing appears without a status.
                  if (!got.status) {
                    EXPECT_EQ(got, UserOnly("u-1")) << where;
                  }
                  ++cases;
                }
              }
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 27 * 3 * 4 * 2 * 2 * 2);
}

TEST(PrivacyRule, StatusGatesEverything) {
  // Every other field is open to everyone; only the status is not.
  const PrivacySettings settings = Settings(
      Visibility::kNobody, Visibility::kEveryone, Visibility::kEveryone);
  for (Status status : {Status::kOnline, Status::kAway, Status::kOffline}) {
    EXPECT_EQ(Project(Full(status), settings, ViewerClass::kOther),
              UserOnly("alice"));
    EXPECT_EQ(Project(Full(status), settings, ViewerClass::kContact),
              UserOnly("alice"));
  }
  const PrivacySettings contacts_only = Settings(
      Visibility::kContacts, Visibility::kEveryone, Visibility::kEveryone);
  EXPECT_EQ(Project(Full(Status::kOnline), contacts_only, ViewerClass::kOther),
            UserOnly("alice"));
  EXPECT_EQ(Project(Full(Status::kOnline), contacts_only, ViewerClass::kContact)
                .activity,
            Activity::Typing("c1"));
}

TEST(PrivacyRule, ActivityIsFilteredByPrivacy) {
  // The seed sent activity to anyone subscribed; show_activity must apply.
  const PresenceState state = Full(Status::kOnline);
  const PrivacySettings contacts = Settings(
      Visibility::kEveryone, Visibility::kEveryone, Visibility::kContacts);
  EXPECT_EQ(Project(state, contacts, ViewerClass::kOther).activity,
            std::nullopt);
  EXPECT_EQ(Project(state, contacts, ViewerClass::kOther).status,
            Status::kOnline);
  EXPECT_EQ(Project(state, contacts, ViewerClass::kContact).activity,
            Activity::Typing("c1"));
  const PrivacySettings nobody = Settings(
      Visibility::kEveryone, Visibility::kEveryone, Visibility::kNobody);
  EXPECT_EQ(Project(state, nobody, ViewerClass::kContact).activity,
            std::nullopt);
  EXPECT_EQ(Project(state, nobody, ViewerClass::kSelf).activity,
            Activity::Typing("c1"));
}

TEST(PrivacyRule, DeviceOnlyWithStatus) {
  const PrivacySettings open = Settings(
      Visibility::kEveryone, Visibility::kEveryone, Visibility::kEveryone);
  EXPECT_EQ(Project(Full(Status::kOnline), open, ViewerClass::kOther).device,
            Device::kMobile);
  EXPECT_EQ(Project(Full(Status::kAway), open, ViewerClass::kOther).device,
            Device::kMobile);
  // Offline has no device, even if the state still carried one.
  EXPECT_EQ(Project(Full(Status::kOffline), open, ViewerClass::kOther).device,
            std::nullopt);
  const PrivacySettings hidden = Settings(
      Visibility::kNobody, Visibility::kEveryone, Visibility::kEveryone);
  EXPECT_EQ(Project(Full(Status::kOnline), hidden, ViewerClass::kOther).device,
            std::nullopt);
}

TEST(PrivacyRule, LastSeenOnlyWhenOffline) {
  const PrivacySettings open = Settings(
      Visibility::kEveryone, Visibility::kEveryone, Visibility::kEveryone);
  EXPECT_EQ(
      Project(Full(Status::kOffline), open, ViewerClass::kOther).last_seen_ms,
      1'000);
  EXPECT_EQ(
      Project(Full(Status::kOnline), open, ViewerClass::kOther).last_seen_ms,
      std::nullopt);
  EXPECT_EQ(
      Project(Full(Status::kAway), open, ViewerClass::kOther).last_seen_ms,
      std::nullopt);
  // And only if show_last_seen admits the viewer.
  const PrivacySettings contacts = Settings(
      Visibility::kEveryone, Visibility::kContacts, Visibility::kEveryone);
  EXPECT_EQ(Project(Full(Status::kOffline), contacts, ViewerClass::kOther)
                .last_seen_ms,
            std::nullopt);
  EXPECT_EQ(Project(Full(Status::kOffline), contacts, ViewerClass::kContact)
                .last_seen_ms,
            1'000);
  // Activity never shows for an offline user.
  EXPECT_EQ(Project(Full(Status::kOffline), open, ViewerClass::kSelf).activity,
            std::nullopt);
}

TEST(PrivacyRule, SelfSeesAll) {
  const PrivacySettings closed =
      Settings(Visibility::kNobody, Visibility::kNobody, Visibility::kNobody);
  View online{"alice", Status::kOnline, std::nullopt, Device::kMobile,
              Activity::Typing("c1")};
  EXPECT_EQ(Project(Full(Status::kOnline), closed, ViewerClass::kSelf), online);
  View offline{"alice", Status::kOffline, 1'000, std::nullopt, std::nullopt};
  EXPECT_EQ(Project(Full(Status::kOffline), closed, ViewerClass::kSelf),
            offline);
  // Never seen is {userId} alone, for self too.
  PresenceState never;
  never.user_id = "alice";
  never.last_seen_ms = 5;
  EXPECT_EQ(Project(never, closed, ViewerClass::kSelf), UserOnly("alice"));
  EXPECT_EQ(ClassifyViewer("alice", "alice", false), ViewerClass::kSelf);
  EXPECT_EQ(ClassifyViewer("alice", "alice", true), ViewerClass::kSelf);
}

TEST(PrivacyRule, ContactsMeansTheTargetsOwnList) {
  // alice lists bob; bob lists nobody. Each user's "contacts" setting is
  // judged against that user's own list, not the viewer's.
  const std::map<std::string, std::set<std::string>> contacts = {
      {"alice", {"bob"}}, {"bob", {}}};
  auto view = [&](const std::string& viewer, const std::string& target) {
    const bool listed = contacts.find(target)->second.count(viewer) > 0;
    PresenceState state = Full(Status::kOnline);
    state.user_id = target;
    return Project(state,
                   Settings(Visibility::kContacts, Visibility::kContacts,
                            Visibility::kContacts),
                   ClassifyViewer(viewer, target, listed));
  };
  EXPECT_EQ(ClassifyViewer("bob", "alice", true), ViewerClass::kContact);
  EXPECT_EQ(ClassifyViewer("alice", "bob", false), ViewerClass::kOther);
  EXPECT_EQ(view("bob", "alice").status, Status::kOnline);
  EXPECT_EQ(view("bob", "alice").activity, Activity::Typing("c1"));
  EXPECT_EQ(view("alice", "bob"), UserOnly("bob"));
}

TEST(PrivacyRule, DefaultsAreEveryoneContactsContacts) {
  const PrivacySettings defaults;
  EXPECT_EQ(defaults.show_online_status, Visibility::kEveryone);
  EXPECT_EQ(defaults.show_last_seen, Visibility::kContacts);
  EXPECT_EQ(defaults.show_activity, Visibility::kContacts);
  // A stranger sees the status and device but no activity or last seen.
  const View online =
      Project(Full(Status::kOnline), defaults, ViewerClass::kOther);
  EXPECT_EQ(online, (View{"alice", Status::kOnline, std::nullopt,
                          Device::kMobile, std::nullopt}));
  const View offline =
      Project(Full(Status::kOffline), defaults, ViewerClass::kOther);
  EXPECT_EQ(offline, (View{"alice", Status::kOffline, std::nullopt,
                           std::nullopt, std::nullopt}));
  EXPECT_EQ(Project(Full(Status::kOffline), defaults, ViewerClass::kContact)
                .last_seen_ms,
            1'000);
}

TEST(PrivacyTest, NeverSeenIsUserIdAloneForEveryone) {
  PresenceState never;
  never.user_id = "carol";
  never.last_seen_ms = 77;
  never.device = Device::kWeb;
  never.activity = Activity::Busy("x");
  for (ViewerClass viewer : kViewers) {
    EXPECT_EQ(Project(never, PrivacySettings{}, viewer), UserOnly("carol"));
  }
}

TEST(PrivacyTest, ClassifyViewer) {
  EXPECT_EQ(ClassifyViewer("a", "b", true), ViewerClass::kContact);
  EXPECT_EQ(ClassifyViewer("a", "b", false), ViewerClass::kOther);
  EXPECT_EQ(ClassifyViewer("a", "A", false), ViewerClass::kOther);
}

}  // namespace
}  // namespace presence
