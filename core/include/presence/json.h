// JsonValue: a strict RFC 8259 JSON reader with a small tree, for the codec
// and the WebAssembly bindings.
//
// Contract: ParseJson accepts exactly what RFC 8259 accepts (one value,
// optional surrounding whitespace, an optional leading UTF-8 byte order
// mark), in well-formed UTF-8, and returns nullopt for anything else: bad
// syntax, invalid UTF-8, unescaped control characters, lone surrogates in
// \u escapes, trailing bytes, or nesting deeper than `max_depth`. It never
// throws and never reads past `text`.
//
// Numbers: an integer literal (no fraction or exponent) that fits int64 or
// uint64 is exact; any other number is kept as an approximate double, which
// is all the protocol needs of it ("not an integer"). A number beyond the
// double range is rejected (near that bound the approximation may decide
// differently from a correctly rounded parse). In an object a key that
// repeats keeps its last value.
//
// It exists instead of a general JSON library because the core reads a few
// small fixed schemas: a tree of vectors and strings is faster to build and
// a fraction of the code in a WebAssembly module.

#ifndef PRESENCE_JSON_H_
#define PRESENCE_JSON_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace presence {

class JsonValue {
 public:
  enum class Type : uint8_t {
    kNull,
    kBool,
    kInteger,   // fits int64
    kUnsigned,  // above int64, fits uint64
    kDouble,
    kString,
    kArray,
    kObject,
  };
  using Member = std::pair<std::string, JsonValue>;

  JsonValue() = default;

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_boolean() const { return type_ == Type::kBool; }
  bool is_number() const {
    return type_ == Type::kInteger || type_ == Type::kUnsigned ||
           type_ == Type::kDouble;
  }
  bool is_number_integer() const {
    return type_ == Type::kInteger || type_ == Type::kUnsigned;
  }
  bool is_number_unsigned() const { return type_ == Type::kUnsigned; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // Each is meaningful only for its type (checked by the caller).
  bool boolean() const { return bool_; }
  int64_t integer() const { return int_; }
  uint64_t unsigned_integer() const { return uint_; }
  // Any number, as a double.
  double number() const;
  const std::string& string() const { return string_; }
  std::string& string() { return string_; }
  std::vector<JsonValue>& items() { return items_; }
  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }

  // The member named `key`, or nullptr (also for a non-object).
  JsonValue* Find(std::string_view key);
  const JsonValue* Find(std::string_view key) const;

 private:
  friend class JsonParser;

  Type type_ = Type::kNull;
  bool bool_ = false;
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  double double_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<Member> members_;
};

std::optional<JsonValue> ParseJson(std::string_view text, int max_depth = 64);

}  // namespace presence

#endif  // PRESENCE_JSON_H_
