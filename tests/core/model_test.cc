#include "presence/model.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace presence {
namespace {

using namespace std::string_literals;

// ------------------------------------------------------------ IsValidId

TEST(ModelTest, IdAcceptsEveryAllowedCharacter) {
  EXPECT_TRUE(IsValidId("a"));
  EXPECT_TRUE(IsValidId("Z"));
  EXPECT_TRUE(IsValidId("0"));
  EXPECT_TRUE(IsValidId("."));
  EXPECT_TRUE(IsValidId("user.name_1@example-host.com"));
  EXPECT_TRUE(IsValidId(
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-"));
}

TEST(ModelTest, IdLengthIsOneTo128Bytes) {
  EXPECT_FALSE(IsValidId(""));
  EXPECT_TRUE(IsValidId(std::string(kMaxIdLength, 'x')));
  EXPECT_FALSE(IsValidId(std::string(kMaxIdLength + 1, 'x')));
  EXPECT_EQ(kMaxIdLength, 128u);
}

TEST(ModelTest, IdRejectsOtherCharacters) {
  for (std::string_view bad :
       {"a b", "a/b", "a:b", "a+b", "a%b", "a\"b", "a\\b", "a\nb", "{}",
        "caf\xC3\xA9", "\xF0\x9F\x98\x80", "a,b", "a#b", "a*b"}) {
    EXPECT_FALSE(IsValidId(bad)) << bad;
  }
  EXPECT_FALSE(IsValidId("a\0b"s));
  EXPECT_FALSE(IsValidId("\0"s));
}

// ---------------------------------------------------------- IsValidText

TEST(ModelTest, TextAcceptsWellFormedUtf8) {
  EXPECT_TRUE(IsValidText(""));
  EXPECT_TRUE(IsValidText("plain /page?x=1"));
  EXPECT_TRUE(IsValidText("caf\xC3\xA9"));       // U+00E9
  EXPECT_TRUE(IsValidText("\xC2\x80"));          // U+0080, lowest 2-byte
  EXPECT_TRUE(IsValidText("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(IsValidText("\xE0\xA0\x80"));      // U+0800, lowest 3-byte
  EXPECT_TRUE(IsValidText("\xE2\x82\xAC"));      // euro sign
  EXPECT_TRUE(IsValidText("\xED\x9F\xBF"));      // U+D7FF, below surrogates
  EXPECT_TRUE(IsValidText("\xEE\x80\x80"));      // U+E000, above surrogates
  EXPECT_TRUE(IsValidText("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(IsValidText("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(IsValidText("\xF0\x9F\x98\x80 smile"));  // emoji
  EXPECT_TRUE(IsValidText("\xF4\x8F\xBF\xBF"));        // U+10FFFF, the last
  EXPECT_TRUE(
      IsValidText("tab\tnewline\ncontrol\x01\x1F"));  // controls are text
  EXPECT_TRUE(IsValidText("nul\0inside"s));
}

TEST(ModelTest, TextRejectsOverlongForms) {
  EXPECT_FALSE(IsValidText("\xC0\x80"));          // NUL in 2 bytes
  EXPECT_FALSE(IsValidText("\xC1\xBF"));          // U+007F in 2 bytes
  EXPECT_FALSE(IsValidText("\xE0\x80\x80"));      // NUL in 3 bytes
  EXPECT_FALSE(IsValidText("\xE0\x9F\xBF"));      // U+07FF in 3 bytes
  EXPECT_FALSE(IsValidText("\xF0\x80\x80\x80"));  // NUL in 4 bytes
  EXPECT_FALSE(IsValidText("\xF0\x8F\xBF\xBF"));  // U+FFFF in 4 bytes
}

TEST(ModelTest, TextRejectsSurrogates) {
  EXPECT_FALSE(IsValidText("\xED\xA0\x80"));  // U+D800
  EXPECT_FALSE(IsValidText("\xED\xAF\xBF"));  // U+DBFF
  EXPECT_FALSE(IsValidText("\xED\xB0\x80"));  // U+DC00
  EXPECT_FALSE(IsValidText("\xED\xBF\xBF"));  // U+DFFF
  // A CESU-8 pair (how some encoders write an emoji) is not UTF-8 either.
  EXPECT_FALSE(IsValidText("\xED\xA0\xBD\xED\xB8\x80"));
}

TEST(ModelTest, TextRejectsTruncatedSequences) {
  EXPECT_FALSE(IsValidText("\xC3"));
  EXPECT_FALSE(IsValidText("ok\xE2\x82"));
  EXPECT_FALSE(IsValidText("\xF0\x9F\x98"));
  EXPECT_FALSE(
      IsValidText("\xF0\x9F\x98"
                  "a"));  // a non-continuation byte cuts it short
  EXPECT_FALSE(
      IsValidText("\xE2"
                  "ab"));
}

TEST(ModelTest, TextRejectsStrayAndImpossibleBytes) {
  EXPECT_FALSE(IsValidText("\x80"));
  EXPECT_FALSE(IsValidText("a\xBF"));
  EXPECT_FALSE(IsValidText("\xFE"));
  EXPECT_FALSE(IsValidText("\xFF"));
  EXPECT_FALSE(IsValidText("\xF8\x88\x80\x80\x80"));  // old 5-byte form
}

TEST(ModelTest, TextRejectsCodePointsAbove10FFFF) {
  EXPECT_FALSE(IsValidText("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidText("\xF5\x80\x80\x80"));
  EXPECT_FALSE(IsValidText("\xF7\xBF\xBF\xBF"));
}

TEST(ModelTest, TextIsAtMost1024Bytes) {
  EXPECT_EQ(kMaxTextLength, 1024u);
  EXPECT_TRUE(IsValidText(std::string(kMaxTextLength, 'a')));
  EXPECT_FALSE(IsValidText(std::string(kMaxTextLength + 1, 'a')));
  // The limit counts bytes, not characters.
  std::string emoji;
  for (size_t i = 0; i < kMaxTextLength / 4; ++i) emoji += "\xF0\x9F\x98\x80";
  EXPECT_EQ(emoji.size(), kMaxTextLength);
  EXPECT_TRUE(IsValidText(emoji));
  EXPECT_FALSE(IsValidText(emoji + "a"));
  EXPECT_FALSE(IsValidText(std::string(kMaxTextLength - 1, 'a') + "\xC3\xA9"));
}

// ------------------------------------------------------------- enums

TEST(ModelTest, StatusNamesRoundTrip) {
  for (Status s : {Status::kOnline, Status::kAway, Status::kOffline}) {
    EXPECT_EQ(ParseStatus(ToString(s)), s);
  }
  EXPECT_EQ(ToString(Status::kOnline), "online");
  EXPECT_EQ(ToString(Status::kAway), "away");
  EXPECT_EQ(ToString(Status::kOffline), "offline");
}

TEST(ModelTest, DeviceNamesRoundTrip) {
  for (Device d : {Device::kWeb, Device::kMobile, Device::kDesktop}) {
    EXPECT_EQ(ParseDevice(ToString(d)), d);
  }
  EXPECT_EQ(ToString(Device::kWeb), "web");
  EXPECT_EQ(ToString(Device::kMobile), "mobile");
  EXPECT_EQ(ToString(Device::kDesktop), "desktop");
}

TEST(ModelTest, ActivityKindNamesRoundTrip) {
  for (ActivityKind k : {ActivityKind::kViewing, ActivityKind::kTyping,
                         ActivityKind::kIdle, ActivityKind::kBusy}) {
    EXPECT_EQ(ParseActivityKind(ToString(k)), k);
  }
  EXPECT_EQ(ToString(ActivityKind::kViewing), "viewing");
  EXPECT_EQ(ToString(ActivityKind::kTyping), "typing");
  EXPECT_EQ(ToString(ActivityKind::kIdle), "idle");
  EXPECT_EQ(ToString(ActivityKind::kBusy), "busy");
}

TEST(ModelTest, VisibilityNamesRoundTrip) {
  for (Visibility v :
       {Visibility::kEveryone, Visibility::kContacts, Visibility::kNobody}) {
    EXPECT_EQ(ParseVisibility(ToString(v)), v);
  }
  EXPECT_EQ(ToString(Visibility::kEveryone), "everyone");
  EXPECT_EQ(ToString(Visibility::kContacts), "contacts");
  EXPECT_EQ(ToString(Visibility::kNobody), "nobody");
}

TEST(ModelTest, ViewerClassNames) {
  EXPECT_EQ(ToString(ViewerClass::kSelf), "self");
  EXPECT_EQ(ToString(ViewerClass::kContact), "contact");
  EXPECT_EQ(ToString(ViewerClass::kOther), "other");
}

TEST(ModelTest, ParseRejectsAnythingButTheExactName) {
  for (std::string_view bad : {"", "Online", "ONLINE", " online", "online ",
                               "on", "onlinex", "unknown", "hidden"}) {
    EXPECT_EQ(ParseStatus(bad), std::nullopt) << bad;
  }
  for (std::string_view bad : {"", "Web", "tablet", "web "}) {
    EXPECT_EQ(ParseDevice(bad), std::nullopt) << bad;
  }
  for (std::string_view bad : {"", "Typing", "sleeping", "idle\n"}) {
    EXPECT_EQ(ParseActivityKind(bad), std::nullopt) << bad;
  }
  for (std::string_view bad : {"", "all", "Everyone", "none"}) {
    EXPECT_EQ(ParseVisibility(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseStatus("online\0"s), std::nullopt);
}

TEST(ModelTest, DefaultsAreDesignDefaults) {
  const PrivacySettings settings;
  EXPECT_EQ(settings.show_online_status, Visibility::kEveryone);
  EXPECT_EQ(settings.show_last_seen, Visibility::kContacts);
  EXPECT_EQ(settings.show_activity, Visibility::kContacts);
  EXPECT_EQ(Activity::Idle(), (Activity{ActivityKind::kIdle, ""}));
  EXPECT_EQ(Activity::Typing("c1"), (Activity{ActivityKind::kTyping, "c1"}));
}

}  // namespace
}  // namespace presence
