#include "presence/model.h"

#include "presence/utf8.h"

namespace presence {

std::string_view ToString(Status status) {
  switch (status) {
    case Status::kOnline:
      return "online";
    case Status::kAway:
      return "away";
    case Status::kOffline:
      return "offline";
  }
  return "offline";
}

std::string_view ToString(Device device) {
  switch (device) {
    case Device::kWeb:
      return "web";
    case Device::kMobile:
      return "mobile";
    case Device::kDesktop:
      return "desktop";
  }
  return "web";
}

std::string_view ToString(ActivityKind kind) {
  switch (kind) {
    case ActivityKind::kViewing:
      return "viewing";
    case ActivityKind::kTyping:
      return "typing";
    case ActivityKind::kIdle:
      return "idle";
    case ActivityKind::kBusy:
      return "busy";
  }
  return "idle";
}

std::string_view ToString(Visibility visibility) {
  switch (visibility) {
    case Visibility::kEveryone:
      return "everyone";
    case Visibility::kContacts:
      return "contacts";
    case Visibility::kNobody:
      return "nobody";
  }
  return "nobody";
}

std::string_view ToString(ViewerClass viewer_class) {
  switch (viewer_class) {
    case ViewerClass::kSelf:
      return "self";
    case ViewerClass::kContact:
      return "contact";
    case ViewerClass::kOther:
      return "other";
  }
  return "other";
}

std::optional<Status> ParseStatus(std::string_view text) {
  if (text == "online") return Status::kOnline;
  if (text == "away") return Status::kAway;
  if (text == "offline") return Status::kOffline;
  return std::nullopt;
}

std::optional<Device> ParseDevice(std::string_view text) {
  if (text == "web") return Device::kWeb;
  if (text == "mobile") return Device::kMobile;
  if (text == "desktop") return Device::kDesktop;
  return std::nullopt;
}

std::optional<ActivityKind> ParseActivityKind(std::string_view text) {
  if (text == "viewing") return ActivityKind::kViewing;
  if (text == "typing") return ActivityKind::kTyping;
  if (text == "idle") return ActivityKind::kIdle;
  if (text == "busy") return ActivityKind::kBusy;
  return std::nullopt;
}

std::optional<Visibility> ParseVisibility(std::string_view text) {
  if (text == "everyone") return Visibility::kEveryone;
  if (text == "contacts") return Visibility::kContacts;
  if (text == "nobody") return Visibility::kNobody;
  return std::nullopt;
}

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidText(std::string_view text) {
  return text.size() <= kMaxTextLength && IsValidUtf8(text);
}

}  // namespace presence
