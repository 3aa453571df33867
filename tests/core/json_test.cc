// JsonValue against nlohmann::json, the reference it replaced: on valid and
// broken inputs alike, both must accept the same texts and see the same
// types, integers, strings and members. Plus the cases the header promises.
#include "presence/json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace presence {
namespace {

// Compares the trees; returns "" or where they differ.
std::string Diff(const JsonValue& ours, const nlohmann::json& ref,
                 const std::string& path = "$") {
  using Type = JsonValue::Type;
  switch (ours.type()) {
    case Type::kNull:
      return ref.is_null() ? "" : path + ": null vs " + ref.type_name();
    case Type::kBool:
      return ref.is_boolean() && ref.get<bool>() == ours.boolean()
                 ? ""
                 : path + ": bool";
    case Type::kInteger:
      return ref.is_number_integer() && !ref.is_number_unsigned() &&
                     ref.get<int64_t>() == ours.integer()
                 ? ""
             : ref.is_number_unsigned() && ours.integer() >= 0 &&
                     ref.get<uint64_t>() ==
                         static_cast<uint64_t>(ours.integer())
                 ? ""
                 : path + ": integer " + std::to_string(ours.integer()) +
                       " vs " + ref.dump();
    case Type::kUnsigned:
      return ref.is_number_unsigned() &&
                     ref.get<uint64_t>() == ours.unsigned_integer()
                 ? ""
                 : path + ": unsigned";
    case Type::kDouble:
      return ref.is_number_float() ? "" : path + ": double vs " + ref.dump();
    case Type::kString:
      return ref.is_string() && ref.get<std::string>() == ours.string()
                 ? ""
                 : path + ": string";
    case Type::kArray: {
      if (!ref.is_array() || ref.size() != ours.items().size()) {
        return path + ": array";
      }
      for (size_t i = 0; i < ref.size(); ++i) {
        std::string d =
            Diff(ours.items()[i], ref[i], path + "[" + std::to_string(i) + "]");
        if (!d.empty()) return d;
      }
      return "";
    }
    case Type::kObject: {
      if (!ref.is_object()) return path + ": object";
      size_t distinct = 0;
      for (const auto& [key, value] : ours.members()) {
        (void)value;
        ++distinct;
        if (!ref.contains(key)) return path + ": no " + key;
        std::string d = Diff(*ours.Find(key), ref[key], path + "." + key);
        if (!d.empty()) return d;
      }
      return distinct == ref.size() ? "" : path + ": member count";
    }
  }
  return path + ": ?";
}

void ExpectSameAsReference(const std::string& text) {
  const std::optional<JsonValue> ours = ParseJson(text, 1000);
  const nlohmann::json ref = nlohmann::json::parse(text, nullptr, false);
  if (text.find('\0') != std::string::npos) {
    // The one known difference: nlohmann ends the input at a NUL byte
    // ("{}\0x" passes); RFC 8259 has no such rule and we reject it.
    if (ours) {
      EXPECT_FALSE(ref.is_discarded()) << testing::PrintToString(text);
    }
    return;
  }
  ASSERT_EQ(ours.has_value(), !ref.is_discarded())
      << "accepts differently: " << testing::PrintToString(text);
  if (ours) {
    EXPECT_EQ(Diff(*ours, ref), "") << testing::PrintToString(text);
  }
}

TEST(JsonTest, AgreesWithTheReferenceOnHandPickedTexts) {
  const std::vector<std::string> texts = {
      "{}",
      "[]",
      "null",
      "true",
      "false",
      "0",
      "-0",
      "1",
      "-1",
      "1.5",
      "-1.5e3",
      "1E+2",
      "1e-2",
      "0.0",
      "01",
      "-",
      "1.",
      ".5",
      "1e",
      "+1",
      "9223372036854775807",
      "9223372036854775808",
      "-9223372036854775808",
      "-9223372036854775809",
      "18446744073709551615",
      "18446744073709551616",
      "1e400",
      "\"\"",
      "\"a\"",
      "\"\\u00e9\"",
      "\"\\ud83d\\ude00\"",
      "\"\\ud83d\"",
      "\"\\ude00\"",
      "\"\\ud83dx\"",
      "\"\\u12\"",
      "\"\\x\"",
      "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"",
      "\"\x01\"",
      "\"\xC3\xA9\"",
      "\"\xC3\"",
      "\"\xED\xA0\x80\"",
      "\"\xF4\x90\x80\x80\"",
      "\"\xC0\xAF\"",
      "\xEF\xBB\xBF{}",
      "\xEF\xBB{}",
      " {} ",
      "{} x",
      "{}{}",
      "",
      " ",
      "{\"a\":1,\"a\":2}",
      "{\"a\":1,}",
      "[1,]",
      "[,1]",
      "{\"a\"}",
      "{\"a\":}",
      "{a:1}",
      "[1 2]",
      "{\"a\":1 \"b\":2}",
      "nul",
      "truex",
      "[[[[[]]]]]",
      "{\"type\":\"presence_bulk\",\"updates\":[{\"userId\":"
      "\"u1\",\"status\":\"online\",\"activity\":{\"type\":\"typing\","
      "\"conversationId\":\"c\"}}]}",
      std::string("\"a\0b\"", 5),
      "\t\n\r[ 1 ,\t2 ]",
      "\"\\u0000\"",
      "[\"\\uDBFF\\uDFFF\"]",
      "1.0e+00",
      "-0.0",
      "[-]",
      "[1e5, 2E-5, -3.25]",
      "{\"\":\"\"}",
      "\"\\uD800\\u0041\"",
  };
  for (const std::string& text : texts) ExpectSameAsReference(text);
}

// Random texts from a grammar-ish generator, then mutated byte by byte: the
// two parsers must accept and read the same.
TEST(JsonTest, AgreesWithTheReferenceOnRandomAndMutatedTexts) {
  std::mt19937_64 rng(20261127);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const std::vector<std::string> atoms = {
      "0",           "-12",          "3.5",
      "1e3",         "true",         "false",
      "null",        "\"x\"",        "\"\\n\"",
      "\"\\u00e9\"", "\"\xC3\xA9\"", "9007199254740993",
      "-0",          "\"\"",         "18446744073709551615"};
  std::function<std::string(int)> gen = [&](int depth) -> std::string {
    const int kind = depth > 3 ? 0 : pick(4);
    if (kind <= 1) return atoms[pick(static_cast<int>(atoms.size()))];
    std::string out = kind == 2 ? "[" : "{";
    const int n = pick(4);
    for (int i = 0; i < n; ++i) {
      if (i) out += pick(8) ? "," : " , ";
      if (kind == 3) out += "\"k" + std::to_string(pick(3)) + "\":";
      out += gen(depth + 1);
    }
    return out + (kind == 2 ? "]" : "}");
  };
  const std::string noise = "{}[]\",:\\ 0-1.eE+utfnalr\x01\x7F\xC3\xA9\xFF";
  for (int i = 0; i < 4000; ++i) {
    std::string text = gen(0);
    ExpectSameAsReference(text);
    for (int m = pick(4); m > 0 && !text.empty(); --m) {
      const size_t at = rng() % text.size();
      switch (pick(3)) {
        case 0:
          text[at] = noise[pick(static_cast<int>(noise.size()))];
          break;
        case 1:
          text.erase(at, 1);
          break;
        default:
          text.insert(at, 1, noise[pick(static_cast<int>(noise.size()))]);
      }
    }
    ExpectSameAsReference(text);
  }
}

TEST(JsonTest, ANulByteIsNeverTheEndOfTheText) {
  EXPECT_FALSE(ParseJson(std::string("{}\0", 3)).has_value());
  EXPECT_FALSE(ParseJson(std::string("{}\0{}", 5)).has_value());
  EXPECT_FALSE(ParseJson(std::string("\"a\0\"", 4)).has_value());
}

TEST(JsonTest, RepeatedKeyKeepsTheLastValue) {
  const auto value = ParseJson(R"({"a":1,"b":2,"a":3})");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->members().size(), 2u);
  EXPECT_EQ(value->Find("a")->integer(), 3);
}

TEST(JsonTest, NestingBeyondMaxDepthIsRejected) {
  EXPECT_TRUE(ParseJson("[[[]]]", 3).has_value());
  EXPECT_FALSE(ParseJson("[[[[]]]]", 3).has_value());
  EXPECT_FALSE(ParseJson(std::string(100000, '['), 64).has_value());
}

TEST(JsonTest, NonIntegerNumbersAreApproximateDoubles) {
  const auto value = ParseJson("[1.5, -2e3, 0.25, 1e-400]");
  ASSERT_TRUE(value.has_value());
  EXPECT_DOUBLE_EQ(value->items()[0].number(), 1.5);
  EXPECT_DOUBLE_EQ(value->items()[1].number(), -2000);
  EXPECT_DOUBLE_EQ(value->items()[2].number(), 0.25);
  EXPECT_FALSE(value->items()[2].is_number_integer());
  EXPECT_EQ(value->items()[3].number(), 0);
  EXPECT_FALSE(ParseJson("1e400").has_value());
  EXPECT_FALSE(ParseJson("-1e400").has_value());
}

}  // namespace
}  // namespace presence
