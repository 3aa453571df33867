#include "presence/model.h"

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
  if (text.size() > kMaxTextLength) return false;
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace presence
