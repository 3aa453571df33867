// The fast paths for the two frames that carry many entries: the client's
// presence_bulk (codec.h ReadPlainBulk) and the server's presence_subscribe
// and presence_unsubscribe (ReadPlainIdList). In a file of their own so the
// browser module can build them for speed and the rest of the codec for
// size (wasm/CMakeLists.txt; the module never calls ReadPlainIdList, and
// the linker drops it).
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "presence/codec.h"

namespace presence {
namespace {

// The bytes IsValidId admits (model.cc), for reading an id in the same pass
// that finds its end.
constexpr bool IsIdByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' || c == '-';
}
struct IdBytes {
  bool ok[256] = {};
  constexpr IdBytes() {
    for (int c = 0; c < 256; ++c)
      ok[c] = IsIdByte(static_cast<unsigned char>(c));
  }
};
constexpr IdBytes kIdBytes;

// ------------------------------------------------------- plain scanner

// The pieces of a one-pass reader of plain JSON (no escapes, no unknown or
// repeated members). Each returns false for anything outside that shape:
// the caller then falls back to the strict tree parser, which also words
// the error.
class PlainScanner {
 protected:
  explicit PlainScanner(std::string_view text) : text_(text) {}

  // `"key"` then `:`, and the spaces around both.
  bool Key(std::string_view* key) {
    SkipSpace();
    if (!String(key)) return false;
    SkipSpace();
    if (!Consume(':')) return false;
    SkipSpace();
    return true;
  }

  // A valid id (IsValidId) as a JSON string, read in one pass: id bytes
  // need no escapes, so anything else (an escape included) is not plain.
  bool Id(std::string_view* out) {
    if (!Consume('"')) return false;
    const size_t start = pos_;
    const size_t end = text_.size();
    while (pos_ < end && kIdBytes.ok[static_cast<unsigned char>(text_[pos_])]) {
      ++pos_;
    }
    const size_t size = pos_ - start;
    if (pos_ == end || text_[pos_] != '"' || size == 0 || size > kMaxIdLength) {
      return false;
    }
    *out = text_.substr(start, size);
    ++pos_;
    return true;
  }

  // Consumes `literal` if the text goes on with it.
  bool Literal(std::string_view literal) {
    if (text_.size() - pos_ < literal.size()) return false;
    for (size_t i = 0; i < literal.size(); ++i) {
      if (text_[pos_ + i] != literal[i]) return false;
    }
    pos_ += literal.size();
    return true;
  }

  // A string without escapes or control characters; its UTF-8 is checked by
  // the caller (every string read here is compared or validated).
  bool String(std::string_view* out) {
    if (!Consume('"')) return false;
    const size_t start = pos_;
    while (pos_ < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        *out = text_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      if (c == '\\' || c < 0x20) return false;
      ++pos_;
    }
    return false;
  }

  // 0 or 1..18 digits without a leading zero: always fits int64.
  bool Integer(int64_t* out) {
    const size_t start = pos_;
    int64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      // A 19th digit is not plain; checked before it is added, as 18 nines
      // times ten is past int64 (the fuzzer found that overflow).
      if (pos_ - start == 18) return false;
      value = value * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    const size_t digits = pos_ - start;
    if (digits == 0 || (digits > 1 && text_[start] == '0')) return false;
    if (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '.' || c == 'e' || c == 'E') return false;
    }
    *out = value;
    return true;
  }

  void SkipSpace() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++pos_;
    }
  }

  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// ------------------------------------------------------- plain bulk reader

// One pass over a presence_bulk in the shape the server writes. Each method
// returns false for anything outside that shape (the caller then falls back
// to the strict tree parser, which also words the error), so a `true` means
// the tree parser would have accepted the same frame with the same views.
class PlainBulkReader : PlainScanner {
 public:
  explicit PlainBulkReader(std::string_view text) : PlainScanner(text) {}

  bool Read(std::vector<ViewRef>* out) {
    if (text_.size() > kMaxServerFrameBytes) return false;
    SkipSpace();
    if (!Consume('{')) return false;
    bool have_type = false;
    bool have_updates = false;
    SkipSpace();
    if (Consume('}')) return false;  // no type
    do {
      std::string_view key;
      if (!Key(&key)) return false;
      if (key == "type" && !have_type) {
        std::string_view type;
        if (!String(&type) || type != "presence_bulk") return false;
        have_type = true;
      } else if (key == "updates" && !have_updates) {
        if (!Views(out)) return false;
        have_updates = true;
      } else {
        return false;  // unknown or repeated: the tree parser decides
      }
      SkipSpace();
    } while (Consume(','));
    if (!Consume('}') || !have_type || !have_updates) return false;
    SkipSpace();
    return pos_ == text_.size();
  }

 private:
  bool Views(std::vector<ViewRef>* out) {
    if (!Consume('[')) return false;
    SkipSpace();
    if (Consume(']')) return true;
    do {
      SkipSpace();
      ViewRef& view = out->emplace_back();
      if (!ViewObject(&view)) return false;
      SkipSpace();
    } while (Consume(','));
    return Consume(']');
  }

  bool ViewObject(ViewRef* view) {
    if (!Consume('{')) return false;
    SkipSpace();
    if (Consume('}')) return false;  // no userId
    unsigned seen = 0;
    do {
      // The members' names matched in place (a name with an escape, or any
      // other name, is not plain).
      SkipSpace();
      unsigned bit = 0;
      if (Literal("\"userId\"")) {
        bit = 1;
      } else if (Literal("\"status\"")) {
        bit = 2;
      } else if (Literal("\"lastSeen\"")) {
        bit = 4;
      } else if (Literal("\"device\"")) {
        bit = 8;
      } else if (Literal("\"activity\"")) {
        bit = 16;
      } else {
        return false;
      }
      SkipSpace();
      if (!Consume(':')) return false;
      SkipSpace();
      std::string_view value;
      if (bit == 1) {
        if (!Id(&view->user_id)) return false;
      } else if (bit == 2) {
        // The server's own spellings first, without a string compare.
        if (Literal("\"online\"")) {
          view->status = Status::kOnline;
        } else if (Literal("\"away\"")) {
          view->status = Status::kAway;
        } else if (Literal("\"offline\"")) {
          view->status = Status::kOffline;
        } else if (!String(&value) || !(view->status = ParseStatus(value))) {
          return false;
        }
      } else if (bit == 4) {
        int64_t ms = 0;
        if (!Integer(&ms)) return false;
        view->last_seen_ms = ms;
      } else if (bit == 8) {
        if (Literal("\"web\"")) {
          view->device = Device::kWeb;
        } else if (Literal("\"mobile\"")) {
          view->device = Device::kMobile;
        } else if (Literal("\"desktop\"")) {
          view->device = Device::kDesktop;
        } else if (!String(&value) || !(view->device = ParseDevice(value))) {
          return false;
        }
      } else if (!ActivityObject(view)) {
        return false;
      }
      if ((seen & bit) != 0) return false;  // repeated
      seen |= bit;
      SkipSpace();
    } while (Consume(','));
    return Consume('}') && (seen & 1) != 0;
  }

  bool ActivityObject(ViewRef* view) {
    if (!Consume('{')) return false;
    SkipSpace();
    std::optional<ActivityKind> kind;
    std::string_view text_key;
    std::string_view text;
    bool have_text = false;
    if (Consume('}')) return false;  // no type
    do {
      std::string_view key;
      if (!Key(&key)) return false;
      if (key == "type" && !kind) {
        std::string_view value;
        if (!String(&value) || !(kind = ParseActivityKind(value))) {
          return false;
        }
      } else if ((key == "page" || key == "conversationId" ||
                  key == "reason") &&
                 !have_text) {
        text_key = key;
        if (!String(&text)) return false;
        have_text = true;
      } else {
        return false;
      }
      SkipSpace();
    } while (Consume(','));
    if (!Consume('}') || !kind) return false;
    std::string_view want;
    switch (*kind) {
      case ActivityKind::kViewing:
        want = "page";
        break;
      case ActivityKind::kTyping:
        want = "conversationId";
        break;
      case ActivityKind::kBusy:
        want = "reason";
        break;
      case ActivityKind::kIdle:
        break;
    }
    // Exactly the kind's own text member (none for idle); anything else is
    // left to the tree parser.
    if (want != text_key || (have_text && !IsValidText(text))) return false;
    view->has_activity = true;
    view->activity_kind = *kind;
    view->activity_text = text;
    return true;
  }
};

// ------------------------------------------------------- plain id-list reader

// presence_subscribe / presence_unsubscribe in the plain shape; see
// ReadPlainIdList.
class PlainIdListReader : PlainScanner {
 public:
  explicit PlainIdListReader(std::string_view text) : PlainScanner(text) {}

  bool Read(IdListRef* out) {
    if (text_.size() > kMaxFrameBytes) return false;
    SkipSpace();
    if (!Consume('{')) return false;
    bool have_type = false;
    bool have_ids = false;
    bool have_replace = false;
    bool have_user = false;
    SkipSpace();
    if (Consume('}')) return false;  // no type
    do {
      std::string_view key;
      if (!Key(&key)) return false;
      if (key == "type" && !have_type) {
        std::string_view type;
        if (!String(&type)) return false;
        if (type == "presence_subscribe") {
          out->unsubscribe = false;
        } else if (type == "presence_unsubscribe") {
          out->unsubscribe = true;
        } else {
          return false;
        }
        have_type = true;
      } else if (key == "userIds" && !have_ids) {
        if (!Ids(&out->user_ids)) return false;
        have_ids = true;
      } else if (key == "replace" && !have_replace) {
        if (!Bool(&out->replace)) return false;
        have_replace = true;
      } else if (key == "userId" && !have_user) {
        std::string_view id;
        if (!String(&id) || !IsValidId(id)) return false;
        out->user_id = id;
        have_user = true;
      } else {
        return false;  // unknown or repeated: the tree parser decides
      }
      SkipSpace();
    } while (Consume(','));
    if (!Consume('}') || !have_type || !have_ids) return false;
    SkipSpace();
    if (pos_ != text_.size()) return false;
    // An unsubscribe has no replace: the member is an ignored extra there.
    if (out->unsubscribe) out->replace = false;
    return true;
  }

 private:
  bool Ids(std::vector<std::string_view>* out) {
    if (!Consume('[')) return false;
    SkipSpace();
    if (Consume(']')) return true;
    do {
      SkipSpace();
      std::string_view id;
      if (!String(&id) || !IsValidId(id)) return false;
      if (out->size() == kMaxIdsPerFrame) return false;
      out->push_back(id);
      SkipSpace();
    } while (Consume(','));
    return Consume(']');
  }

  bool Bool(bool* out) {
    const std::string_view rest = text_.substr(pos_);
    if (rest.starts_with("true")) {
      pos_ += 4;
      *out = true;
      return true;
    }
    if (rest.starts_with("false")) {
      pos_ += 5;
      *out = false;
      return true;
    }
    return false;
  }
};

}  // namespace

bool ViewRef::Matches(const View& view) const {
  if (view.user_id != user_id || view.status != status ||
      view.last_seen_ms != last_seen_ms || view.device != device ||
      view.activity.has_value() != has_activity) {
    return false;
  }
  return !has_activity || (view.activity->kind == activity_kind &&
                           view.activity->text == activity_text);
}

void ViewRef::AssignTo(View* view) const {
  if (view->user_id != user_id) view->user_id.assign(user_id);
  view->status = status;
  view->last_seen_ms = last_seen_ms;
  view->device = device;
  if (!has_activity) {
    view->activity.reset();
    return;
  }
  if (!view->activity) view->activity.emplace();
  view->activity->kind = activity_kind;
  view->activity->text.assign(activity_text);
}

bool ReadPlainBulk(std::string_view text, std::vector<ViewRef>* out) {
  out->clear();
  if (PlainBulkReader(text).Read(out)) return true;
  out->clear();
  return false;
}

bool ReadPlainIdList(std::string_view text, IdListRef* out) {
  out->unsubscribe = false;
  out->replace = false;
  out->user_id.reset();
  out->user_ids.clear();
  if (PlainIdListReader(text).Read(out)) return true;
  out->user_ids.clear();
  out->user_id.reset();
  out->replace = false;
  return false;
}

}  // namespace presence
