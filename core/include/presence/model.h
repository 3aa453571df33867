// The presence data model: plain value types shared by every part of the core.
//
// Status, device, activity, the privacy settings and the per-viewer `View`
// that goes on the wire. All types are copyable values with `==`; none owns
// any resource. String forms are the protocol's (`"online"`, `"typing"`, ...):
// `ToString` never fails, `Parse*` returns nullopt for anything else.
//
// Times are int64 milliseconds since the Unix epoch, always passed in by the
// caller (the core has no clock).

#ifndef PRESENCE_MODEL_H_
#define PRESENCE_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace presence {

enum class Status : uint8_t { kOnline, kAway, kOffline };
enum class Device : uint8_t { kWeb, kMobile, kDesktop };
enum class ActivityKind : uint8_t { kViewing, kTyping, kIdle, kBusy };
enum class Visibility : uint8_t { kEveryone, kContacts, kNobody };

// Who is looking at a user: decides which privacy gate applies.
enum class ViewerClass : uint8_t { kSelf = 0, kContact = 1, kOther = 2 };
inline constexpr int kViewerClassCount = 3;

// What a user is doing. `text` is the page for kViewing, the conversation id
// for kTyping, the reason for kBusy, and empty for kIdle.
struct Activity {
  ActivityKind kind = ActivityKind::kIdle;
  std::string text;

  static Activity Viewing(std::string page) {
    return {ActivityKind::kViewing, std::move(page)};
  }
  static Activity Typing(std::string conversation_id) {
    return {ActivityKind::kTyping, std::move(conversation_id)};
  }
  static Activity Idle() { return {ActivityKind::kIdle, {}}; }
  static Activity Busy(std::string reason) {
    return {ActivityKind::kBusy, std::move(reason)};
  }
  bool operator==(const Activity&) const = default;
};

// A user's privacy settings; the defaults are DESIGN.md's.
struct PrivacySettings {
  Visibility show_online_status = Visibility::kEveryone;
  Visibility show_last_seen = Visibility::kContacts;
  Visibility show_activity = Visibility::kContacts;
  bool operator==(const PrivacySettings&) const = default;
};

// The whole truth about one user, as the hub aggregates it. `status` is
// nullopt for a user nobody has seen. `device` and `activity` are set only
// while the user is online or away.
struct PresenceState {
  std::string user_id;
  std::optional<Status> status;
  std::optional<int64_t> last_seen_ms;
  std::optional<Device> device;
  std::optional<Activity> activity;
  bool operator==(const PresenceState&) const = default;
};

// What one viewer may know of one user. A missing field means hidden or
// unknown, never "unchanged": each View replaces the previous one.
struct View {
  std::string user_id;
  std::optional<Status> status;
  std::optional<int64_t> last_seen_ms;
  std::optional<Device> device;
  std::optional<Activity> activity;
  bool operator==(const View&) const = default;
};

std::string_view ToString(Status status);
std::string_view ToString(Device device);
std::string_view ToString(ActivityKind kind);
std::string_view ToString(Visibility visibility);
std::string_view ToString(ViewerClass viewer_class);

std::optional<Status> ParseStatus(std::string_view text);
std::optional<Device> ParseDevice(std::string_view text);
std::optional<ActivityKind> ParseActivityKind(std::string_view text);
std::optional<Visibility> ParseVisibility(std::string_view text);

// Limits of the protocol (DESIGN.md "Limits").
inline constexpr size_t kMaxIdLength = 128;
inline constexpr size_t kMaxTextLength = 1024;   // page, reason, ...
inline constexpr size_t kMaxTokenLength = 8192;  // a JWT
inline constexpr size_t kMaxFrameBytes = 64 * 1024;
inline constexpr size_t kMaxIdsPerFrame = 10000;
inline constexpr size_t kMaxSubscriptions = 10000;

// True for 1..128 bytes of [A-Za-z0-9._@-]: user and session ids.
bool IsValidId(std::string_view id);

// True for well-formed UTF-8 of at most kMaxTextLength bytes. Activity text
// must pass this before it is stored or sent.
bool IsValidText(std::string_view text);

}  // namespace presence

#endif  // PRESENCE_MODEL_H_
