#include "presence/json.h"

#include <cstring>
#include <limits>

#include "presence/utf8.h"

namespace presence {

double JsonValue::number() const {
  switch (type_) {
    case Type::kInteger:
      return static_cast<double>(int_);
    case Type::kUnsigned:
      return static_cast<double>(uint_);
    case Type::kDouble:
      return double_;
    default:
      return 0;
  }
}

JsonValue* JsonValue::Find(std::string_view key) {
  // Objects in the protocol have a handful of members: a linear scan beats
  // any index. From the back, so a repeated key yields its last value.
  for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

const JsonValue* JsonValue::Find(std::string_view key) const {
  return const_cast<JsonValue*>(this)->Find(key);
}

class JsonParser {
 public:
  JsonParser(std::string_view text, int max_depth)
      : text_(text), max_depth_(max_depth) {}

  bool ParseDocument(JsonValue* out) {
    // A UTF-8 byte order mark may open the text (RFC 8259 section 8.1).
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
    SkipSpace();
    if (!ParseValue(out, 0)) return false;
    SkipSpace();
    return pos_ == text_.size();
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  void SkipSpace() {
    while (!AtEnd()) {
      const char c = Peek();
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  bool Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool ParseValue(JsonValue* out, int depth) {
    if (AtEnd()) return false;
    switch (Peek()) {
      case '{':
        return ParseObject(out, depth + 1);
      case '[':
        return ParseArray(out, depth + 1);
      case '"':
        out->type_ = JsonValue::Type::kString;
        return ParseString(&out->string_);
      case 't':
        out->type_ = JsonValue::Type::kBool;
        out->bool_ = true;
        return Literal("true");
      case 'f':
        out->type_ = JsonValue::Type::kBool;
        out->bool_ = false;
        return Literal("false");
      case 'n':
        out->type_ = JsonValue::Type::kNull;
        return Literal("null");
      default:
        return ParseNumber(out);
    }
  }

  bool ParseObject(JsonValue* out, int depth) {
    if (depth > max_depth_) return false;
    out->type_ = JsonValue::Type::kObject;
    ++pos_;  // '{'
    SkipSpace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      SkipSpace();
      if (AtEnd() || Peek() != '"') return false;
      std::string key;
      if (!ParseString(&key)) return false;
      SkipSpace();
      if (AtEnd() || Peek() != ':') return false;
      ++pos_;
      SkipSpace();
      JsonValue value;
      if (!ParseValue(&value, depth)) return false;
      if (JsonValue* existing = out->Find(key)) {
        *existing = std::move(value);
      } else {
        out->members_.emplace_back(std::move(key), std::move(value));
      }
      SkipSpace();
      if (AtEnd()) return false;
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() != '}') return false;
      ++pos_;
      return true;
    }
  }

  bool ParseArray(JsonValue* out, int depth) {
    if (depth > max_depth_) return false;
    out->type_ = JsonValue::Type::kArray;
    ++pos_;  // '['
    SkipSpace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      SkipSpace();
      out->items_.emplace_back();
      if (!ParseValue(&out->items_.back(), depth)) return false;
      SkipSpace();
      if (AtEnd()) return false;
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() != ']') return false;
      ++pos_;
      return true;
    }
  }

  static int HexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool Hex4(uint32_t* out) {
    if (text_.size() - pos_ < 4) return false;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = HexDigit(text_[pos_ + i]);
      if (d < 0) return false;
      value = value << 4 | static_cast<uint32_t>(d);
    }
    pos_ += 4;
    *out = value;
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | cp >> 6));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | cp >> 12));
      out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | cp >> 18));
      out->push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool Escape(std::string* out) {
    if (AtEnd()) return false;
    const char c = text_[pos_++];
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out->push_back(c);
        return true;
      case 'b':
        out->push_back('\b');
        return true;
      case 'f':
        out->push_back('\f');
        return true;
      case 'n':
        out->push_back('\n');
        return true;
      case 'r':
        out->push_back('\r');
        return true;
      case 't':
        out->push_back('\t');
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    uint32_t cp = 0;
    if (!Hex4(&cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a lone low surrogate
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      // A high surrogate must be followed by an escaped low one.
      uint32_t low = 0;
      if (text_.substr(pos_, 2) != "\\u") return false;
      pos_ += 2;
      if (!Hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(cp, out);
    return true;
  }

  bool ParseString(std::string* out) {
    ++pos_;  // '"'
    for (;;) {
      // Copy the longest run that needs no attention in one append.
      const size_t start = pos_;
      while (!AtEnd()) {
        const auto c = static_cast<unsigned char>(Peek());
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++pos_;
      }
      out->append(text_.data() + start, pos_ - start);
      if (AtEnd()) return false;
      const auto c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        ++pos_;
        if (!Escape(out)) return false;
      } else if (c < 0x20) {
        return false;  // control characters must be escaped
      } else {
        const size_t len = Utf8SequenceLength(text_, pos_);
        if (len == 0) return false;
        out->append(text_.data() + pos_, len);
        pos_ += len;
      }
    }
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  bool ParseNumber(JsonValue* out) {
    const bool negative = Peek() == '-';
    if (negative) ++pos_;
    if (AtEnd() || !IsDigit(Peek())) return false;
    // Integer digits: "0" alone, or a non-zero digit and more.
    uint64_t magnitude = 0;
    bool overflow = false;
    int significant = 0;
    int exponent = 0;
    // Up to 19 significant digits go into `mantissa` for the double.
    uint64_t mantissa = 0;
    auto take_digit = [&](char c, bool fraction) {
      const unsigned d = static_cast<unsigned>(c - '0');
      if (significant < 19) {
        if (mantissa != 0 || d != 0) ++significant;
        mantissa = mantissa * 10 + d;
        if (fraction) --exponent;
      } else if (!fraction) {
        ++exponent;
      }
    };
    if (Peek() == '0') {
      ++pos_;
    } else {
      while (!AtEnd() && IsDigit(Peek())) {
        const unsigned d = static_cast<unsigned>(Peek() - '0');
        if (magnitude > (std::numeric_limits<uint64_t>::max() - d) / 10) {
          overflow = true;
        } else {
          magnitude = magnitude * 10 + d;
        }
        take_digit(Peek(), false);
        ++pos_;
      }
    }
    bool integral = true;
    if (!AtEnd() && Peek() == '.') {
      integral = false;
      ++pos_;
      if (AtEnd() || !IsDigit(Peek())) return false;
      while (!AtEnd() && IsDigit(Peek())) take_digit(text_[pos_++], true);
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      integral = false;
      ++pos_;
      bool exp_negative = false;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) {
        exp_negative = Peek() == '-';
        ++pos_;
      }
      if (AtEnd() || !IsDigit(Peek())) return false;
      int value = 0;
      while (!AtEnd() && IsDigit(Peek())) {
        if (value < 100000) value = value * 10 + (Peek() - '0');
        ++pos_;
      }
      exponent += exp_negative ? -value : value;
    }
    if (integral && !overflow) {
      if (!negative && magnitude > static_cast<uint64_t>(
                                       std::numeric_limits<int64_t>::max())) {
        out->type_ = JsonValue::Type::kUnsigned;
        out->uint_ = magnitude;
        return true;
      }
      constexpr uint64_t kMinMagnitude =
          static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1;
      if (magnitude <= kMinMagnitude) {
        out->type_ = JsonValue::Type::kInteger;
        out->int_ = !negative ? static_cast<int64_t>(magnitude)
                    : magnitude == kMinMagnitude
                        ? std::numeric_limits<int64_t>::min()
                        : -static_cast<int64_t>(magnitude);
        return true;
      }
    }
    // Approximate on purpose: see the header.
    double value = static_cast<double>(mantissa);
    for (int e = exponent; e > 0 && value != 0; --e) {
      value *= 10;
      // Beyond the largest double: rejected, as a number overflow.
      if (value > std::numeric_limits<double>::max()) return false;
    }
    for (int e = exponent; e < 0 && value != 0; ++e) value /= 10;
    out->type_ = JsonValue::Type::kDouble;
    out->double_ = negative ? -value : value;
    return true;
  }

  std::string_view text_;
  int max_depth_;
  size_t pos_ = 0;
};

std::optional<JsonValue> ParseJson(std::string_view text, int max_depth) {
  JsonValue value;
  JsonParser parser(text, max_depth);
  if (!parser.ParseDocument(&value)) return std::nullopt;
  return value;
}

}  // namespace presence
