#include "presence/codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "presence/model.h"
#include "presence/protocol.h"

// Frames are written with designated initializers naming only the fields a
// case sets; the rest keep their defaults on purpose.

namespace presence {
namespace {

using namespace std::string_literals;

// ------------------------------------------------------------- helpers

ClientFrame MustParseClient(std::string_view text) {
  auto parsed = ParseClientFrame(text);
  if (const auto* error = std::get_if<CodecError>(&parsed)) {
    ADD_FAILURE() << "rejected (" << error->message << "): " << text;
    return HeartbeatFrame{};
  }
  return std::get<ClientFrame>(std::move(parsed));
}

ServerFrame MustParseServer(std::string_view text) {
  auto parsed = ParseServerFrame(text);
  if (const auto* error = std::get_if<CodecError>(&parsed)) {
    ADD_FAILURE() << "rejected (" << error->message << "): " << text;
    return ErrorFrame{};
  }
  return std::get<ServerFrame>(std::move(parsed));
}

// The message a rejected client frame gets ("" and a failure if accepted).
std::string ClientError(std::string_view text) {
  auto parsed = ParseClientFrame(text);
  if (const auto* error = std::get_if<CodecError>(&parsed)) {
    return error->message;
  }
  ADD_FAILURE() << "accepted: " << text;
  return "";
}

std::string ServerError(std::string_view text) {
  auto parsed = ParseServerFrame(text);
  if (const auto* error = std::get_if<CodecError>(&parsed)) {
    return error->message;
  }
  ADD_FAILURE() << "accepted: " << text;
  return "";
}

// A short distinct id for `i` (base 62), so that kMaxIdsPerFrame + 1 of them
// fit in one frame and the count alone decides.
std::string ShortId(size_t i) {
  static constexpr std::string_view kDigits =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string id;
  do {
    id.push_back(kDigits[i % kDigits.size()]);
    i /= kDigits.size();
  } while (i > 0);
  return id;
}

// A JSON array of `n` distinct valid ids.
std::string IdArray(size_t n) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ',';
    out += "\"" + ShortId(i) + "\"";
  }
  return out + "]";
}

std::vector<ClientFrame> SampleClientFrames() {
  return {
      AuthFrame{.token = "eyJ.abc.def", .device = Device::kWeb},
      AuthFrame{.token = "tok",
                .device = Device::kMobile,
                .session = "s-1",
                .status = Status::kAway,
                .user_id = "alice"},
      AuthFrame{.token = "tok", .device = Device::kDesktop},
      PresenceFrame{.status = Status::kOnline},
      PresenceFrame{.status = Status::kAway, .timestamp = 1700000000000},
      PresenceFrame{
          .status = Status::kOffline, .timestamp = 0, .user_id = "alice"},
      HeartbeatFrame{},
      HeartbeatFrame{.user_id = "alice"},
      ActivityFrame{.activity = Activity::Viewing("/inbox?x=1")},
      ActivityFrame{.activity = Activity::Typing("conv-9"),
                    .timestamp = 5,
                    .user_id = "alice"},
      ActivityFrame{.activity = Activity::Idle()},
      ActivityFrame{.activity =
                        Activity::Busy("In a meeting \xF0\x9F\x93\x85")},
      ActivityFrame{.activity = Activity::Viewing("")},
      SubscribeFrame{.user_ids = {"bob", "carol"}},
      SubscribeFrame{.user_ids = {}, .replace = true},
      SubscribeFrame{.user_ids = {"bob"}, .replace = true, .user_id = "alice"},
      UnsubscribeFrame{.user_ids = {"bob"}},
      UnsubscribeFrame{.user_ids = {}, .user_id = "alice"},
  };
}

View FullView() {
  return View{.user_id = "bob",
              .status = Status::kOnline,
              .last_seen_ms = 1700000000123,
              .device = Device::kMobile,
              .activity = Activity::Typing("conv-1")};
}

std::vector<ServerFrame> SampleServerFrames() {
  return {
      WelcomeFrame{.user_id = "alice",
                   .session = "s-1",
                   .heartbeat_ms = 30000,
                   .server_time = 1700000000000},
      BulkFrame{},
      BulkFrame{.updates = {View{.user_id = "nobody-seen"}}},
      BulkFrame{.updates = {FullView(),
                            View{.user_id = "carol",
                                 .status = Status::kOffline,
                                 .last_seen_ms = 42},
                            View{.user_id = "dave",
                                 .status = Status::kAway,
                                 .device = Device::kWeb,
                                 .activity = Activity::Viewing("/p")},
                            View{.user_id = "erin",
                                 .status = Status::kOnline,
                                 .activity = Activity::Busy("call")}}},
      ErrorFrame{.code = ErrorCode::kUnauthorized, .message = "bad token"},
      ErrorFrame{.code = ErrorCode::kForbidden, .message = ""},
      ErrorFrame{.code = ErrorCode::kBadRequest,
                 .message = "userIds[3]: invalid id"},
      ErrorFrame{.code = ErrorCode::kRateLimited, .message = "slow down"},
      ErrorFrame{.code = ErrorCode::kLimit, .message = "too many"},
  };
}

// Deterministic PRNG (splitmix64) so failures reproduce everywhere,
// including the 32-bit WASM build.
class Prng {
 public:
  explicit Prng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }

 private:
  uint64_t state_;
};

// Whatever the input, the parser returns a frame or an error; an accepted
// frame re-serializes to text that parses to the same frame, and a rejected
// one carries a short message fit to echo.
void CheckClientParseIsTotal(std::string_view text) {
  auto parsed = ParseClientFrame(text);
  if (const auto* error = std::get_if<CodecError>(&parsed)) {
    EXPECT_FALSE(error->message.empty());
    EXPECT_LE(error->message.size(), 100u) << error->message;
    return;
  }
  const auto& frame = std::get<ClientFrame>(parsed);
  auto again = ParseClientFrame(Serialize(frame));
  ASSERT_TRUE(std::holds_alternative<ClientFrame>(again)) << text;
  EXPECT_EQ(std::get<ClientFrame>(again), frame) << text;
}

void CheckServerParseIsTotal(std::string_view text) {
  auto parsed = ParseServerFrame(text);
  if (const auto* error = std::get_if<CodecError>(&parsed)) {
    EXPECT_FALSE(error->message.empty());
    EXPECT_LE(error->message.size(), 100u) << error->message;
    return;
  }
  const auto& frame = std::get<ServerFrame>(parsed);
  auto again = ParseServerFrame(Serialize(frame));
  ASSERT_TRUE(std::holds_alternative<ServerFrame>(again)) << text;
  EXPECT_EQ(std::get<ServerFrame>(again), frame) << text;
}

// ------------------------------------------------------ parsing, by frame

TEST(CodecTest, ParsesAuth) {
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"auth","token":"t.k.n","device":"mobile","session":"s-1","status":"away","userId":"alice"})"),
      ClientFrame(AuthFrame{.token = "t.k.n",
                            .device = Device::kMobile,
                            .session = "s-1",
                            .status = Status::kAway,
                            .user_id = "alice"}));
}

TEST(CodecTest, ParsesAuthWithoutOptionals) {
  EXPECT_EQ(
      MustParseClient(R"({"type":"auth","token":"t","device":"desktop"})"),
      ClientFrame(AuthFrame{.token = "t", .device = Device::kDesktop}));
}

TEST(CodecTest, ParsesPresence) {
  EXPECT_EQ(MustParseClient(R"({"type":"presence","status":"online"})"),
            ClientFrame(PresenceFrame{.status = Status::kOnline}));
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"presence","status":"offline","timestamp":1700000000000,"userId":"a"})"),
      ClientFrame(PresenceFrame{.status = Status::kOffline,
                                .timestamp = 1700000000000,
                                .user_id = "a"}));
}

TEST(CodecTest, ParsesHeartbeat) {
  EXPECT_EQ(MustParseClient(R"({"type":"heartbeat"})"),
            ClientFrame(HeartbeatFrame{}));
  EXPECT_EQ(MustParseClient(R"({"type":"heartbeat","userId":"a"})"),
            ClientFrame(HeartbeatFrame{.user_id = "a"}));
}

TEST(CodecTest, ParsesEveryActivityKind) {
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"activity","activity":{"type":"viewing","page":"/home"}})"),
      ClientFrame(ActivityFrame{.activity = Activity::Viewing("/home")}));
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"activity","activity":{"type":"typing","conversationId":"c1"},"timestamp":7})"),
      ClientFrame(
          ActivityFrame{.activity = Activity::Typing("c1"), .timestamp = 7}));
  EXPECT_EQ(
      MustParseClient(R"({"type":"activity","activity":{"type":"idle"}})"),
      ClientFrame(ActivityFrame{.activity = Activity::Idle()}));
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"activity","activity":{"type":"busy","reason":"call"}})"),
      ClientFrame(ActivityFrame{.activity = Activity::Busy("call")}));
}

TEST(CodecTest, IdleActivityIgnoresText) {
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"activity","activity":{"type":"idle","page":"/x","reason":"r"}})"),
      ClientFrame(ActivityFrame{.activity = Activity::Idle()}));
}

TEST(CodecTest, ActivityTakesOnlyTheFieldOfItsKind) {
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"activity","activity":{"type":"viewing","page":"/a","reason":"r","conversationId":"c"}})"),
      ClientFrame(ActivityFrame{.activity = Activity::Viewing("/a")}));
}

TEST(CodecTest, ParsesSubscribe) {
  EXPECT_EQ(
      MustParseClient(R"({"type":"presence_subscribe","userIds":["b","c"]})"),
      ClientFrame(SubscribeFrame{.user_ids = {"b", "c"}}));
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"presence_subscribe","userIds":["b"],"replace":true})"),
      ClientFrame(SubscribeFrame{.user_ids = {"b"}, .replace = true}));
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"presence_subscribe","userIds":["b"],"replace":false})"),
      ClientFrame(SubscribeFrame{.user_ids = {"b"}, .replace = false}));
}

TEST(CodecTest, SubscribeKeepsOrderAndDuplicates) {
  // Deduplication is the hub's business; the codec reports what was sent.
  EXPECT_EQ(MustParseClient(
                R"({"type":"presence_subscribe","userIds":["c","b","c"]})"),
            ClientFrame(SubscribeFrame{.user_ids = {"c", "b", "c"}}));
}

TEST(CodecTest, ParsesUnsubscribe) {
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"presence_unsubscribe","userIds":["b"],"userId":"a"})"),
      ClientFrame(UnsubscribeFrame{.user_ids = {"b"}, .user_id = "a"}));
}

TEST(CodecTest, ParsesWelcome) {
  EXPECT_EQ(
      MustParseServer(
          R"({"type":"welcome","userId":"alice","session":"s-9","heartbeatMs":30000,"serverTime":1700000000000})"),
      ServerFrame(WelcomeFrame{.user_id = "alice",
                               .session = "s-9",
                               .heartbeat_ms = 30000,
                               .server_time = 1700000000000}));
}

TEST(CodecTest, ParsesBulk) {
  EXPECT_EQ(
      MustParseServer(
          R"({"type":"presence_bulk","updates":[{"userId":"bob","status":"online","lastSeen":1700000000123,"device":"mobile","activity":{"type":"typing","conversationId":"conv-1"}},{"userId":"x"}]})"),
      ServerFrame(BulkFrame{.updates = {FullView(), View{.user_id = "x"}}}));
  EXPECT_EQ(MustParseServer(R"({"type":"presence_bulk","updates":[]})"),
            ServerFrame(BulkFrame{}));
}

TEST(CodecTest, ParsesErrorWithEveryCode) {
  for (ErrorCode code :
       {ErrorCode::kUnauthorized, ErrorCode::kForbidden, ErrorCode::kBadRequest,
        ErrorCode::kRateLimited, ErrorCode::kLimit, ErrorCode::kUnavailable}) {
    const std::string text = R"({"type":"error","code":")" +
                             std::string(ToString(code)) +
                             R"(","message":"why"})";
    EXPECT_EQ(MustParseServer(text),
              ServerFrame(ErrorFrame{.code = code, .message = "why"}));
  }
}

TEST(CodecTest, ErrorCodeNamesRoundTrip) {
  EXPECT_EQ(ToString(ErrorCode::kUnauthorized), "unauthorized");
  EXPECT_EQ(ToString(ErrorCode::kForbidden), "forbidden");
  EXPECT_EQ(ToString(ErrorCode::kBadRequest), "bad_request");
  EXPECT_EQ(ToString(ErrorCode::kRateLimited), "rate_limited");
  EXPECT_EQ(ToString(ErrorCode::kLimit), "limit");
  for (ErrorCode code :
       {ErrorCode::kUnauthorized, ErrorCode::kForbidden, ErrorCode::kBadRequest,
        ErrorCode::kRateLimited, ErrorCode::kLimit, ErrorCode::kUnavailable}) {
    EXPECT_EQ(ParseErrorCode(ToString(code)), code);
  }
  for (std::string_view bad : {"", "Forbidden", "bad-request", "limits"}) {
    EXPECT_EQ(ParseErrorCode(bad), std::nullopt) << bad;
  }
}

TEST(CodecTest, UnknownFieldsAreIgnored) {
  EXPECT_EQ(
      MustParseClient(
          R"({"v":2,"type":"heartbeat","extra":{"a":[1,{"b":null}]},"n":1.5})"),
      ClientFrame(HeartbeatFrame{}));
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"activity","activity":{"type":"busy","reason":"r","since":3}})"),
      ClientFrame(ActivityFrame{.activity = Activity::Busy("r")}));
  EXPECT_EQ(
      MustParseServer(
          R"({"type":"presence_bulk","updates":[{"userId":"x","mood":"ok"}],"seq":4})"),
      ServerFrame(BulkFrame{.updates = {View{.user_id = "x"}}}));
}

TEST(CodecTest, EscapedStringsAreDecoded) {
  EXPECT_EQ(
      MustParseClient(
          R"({"type":"activity","activity":{"type":"viewing","page":"a\"b\\c\n\u00e9\ud83d\ude00\u0000"}})"),
      ClientFrame(ActivityFrame{.activity = Activity::Viewing(
                                    "a\"b\\c\n\xC3\xA9\xF0\x9F\x98\x80\0"s)}));
  // Escapes that decode to allowed id characters give a valid id.
  EXPECT_EQ(MustParseClient(R"({"type":"heartbeat","userId":"\u0061b"})"),
            ClientFrame(HeartbeatFrame{.user_id = "ab"}));
}

TEST(CodecTest, ClientParserRejectsServerFramesAndBack) {
  EXPECT_EQ(ClientError(Serialize(SampleServerFrames()[0])),
            "type: unknown frame type");
  EXPECT_EQ(ServerError(Serialize(SampleClientFrames()[0])),
            "type: unknown frame type");
}

// ------------------------------------------------------------ serializing

TEST(CodecTest, SerializesClientFramesInDesignFieldOrder) {
  EXPECT_EQ(Serialize(AuthFrame{.token = "t", .device = Device::kWeb}),
            R"({"type":"auth","token":"t","device":"web"})");
  EXPECT_EQ(
      Serialize(AuthFrame{.token = "t",
                          .device = Device::kMobile,
                          .session = "s",
                          .status = Status::kAway,
                          .user_id = "u"}),
      R"({"type":"auth","token":"t","device":"mobile","session":"s","status":"away","userId":"u"})");
  EXPECT_EQ(Serialize(PresenceFrame{.status = Status::kOffline}),
            R"({"type":"presence","status":"offline"})");
  EXPECT_EQ(
      Serialize(
          PresenceFrame{.status = Status::kOnline, .timestamp = 1700000000000}),
      R"({"type":"presence","status":"online","timestamp":1700000000000})");
  EXPECT_EQ(Serialize(HeartbeatFrame{}), R"({"type":"heartbeat"})");
  EXPECT_EQ(Serialize(ActivityFrame{.activity = Activity::Idle()}),
            R"({"type":"activity","activity":{"type":"idle"}})");
  EXPECT_EQ(Serialize(ActivityFrame{.activity = Activity::Viewing("/p")}),
            R"({"type":"activity","activity":{"type":"viewing","page":"/p"}})");
  EXPECT_EQ(
      Serialize(ActivityFrame{.activity = Activity::Typing("c")}),
      R"({"type":"activity","activity":{"type":"typing","conversationId":"c"}})");
  EXPECT_EQ(
      Serialize(ActivityFrame{.activity = Activity::Busy("r"), .timestamp = 3}),
      R"({"type":"activity","activity":{"type":"busy","reason":"r"},"timestamp":3})");
  EXPECT_EQ(Serialize(SubscribeFrame{.user_ids = {"a", "b"}}),
            R"({"type":"presence_subscribe","userIds":["a","b"]})");
  EXPECT_EQ(Serialize(SubscribeFrame{.user_ids = {}, .replace = true}),
            R"({"type":"presence_subscribe","userIds":[],"replace":true})");
  EXPECT_EQ(Serialize(UnsubscribeFrame{.user_ids = {"a"}}),
            R"({"type":"presence_unsubscribe","userIds":["a"]})");
}

TEST(CodecTest, IdleActivityIgnoresStrayTextWhenSerialized) {
  EXPECT_EQ(Serialize(ActivityFrame{
                .activity = Activity{ActivityKind::kIdle, "leftover"}}),
            R"({"type":"activity","activity":{"type":"idle"}})");
}

TEST(CodecTest, SerializesServerFrames) {
  EXPECT_EQ(
      Serialize(WelcomeFrame{.user_id = "a",
                             .session = "s",
                             .heartbeat_ms = 30000,
                             .server_time = 5}),
      R"({"type":"welcome","userId":"a","session":"s","heartbeatMs":30000,"serverTime":5})");
  EXPECT_EQ(
      Serialize(ErrorFrame{.code = ErrorCode::kBadRequest,
                           .message = "userIds[3]: invalid id"}),
      R"({"type":"error","code":"bad_request","message":"userIds[3]: invalid id"})");
}

TEST(CodecTest, ViewJsonFieldOrderAndOmissions) {
  EXPECT_EQ(
      ViewJson(FullView()),
      R"({"userId":"bob","status":"online","lastSeen":1700000000123,"device":"mobile","activity":{"type":"typing","conversationId":"conv-1"}})");
  EXPECT_EQ(ViewJson(View{.user_id = "x"}), R"({"userId":"x"})");
  EXPECT_EQ(ViewJson(View{
                .user_id = "x", .status = Status::kOffline, .last_seen_ms = 0}),
            R"({"userId":"x","status":"offline","lastSeen":0})");
  EXPECT_EQ(
      ViewJson(View{.user_id = "x",
                    .status = Status::kAway,
                    .activity = Activity::Viewing("/p")}),
      R"({"userId":"x","status":"away","activity":{"type":"viewing","page":"/p"}})");
}

TEST(CodecTest, AppendViewJsonAppendsToWhatIsThere) {
  std::string out = "prefix:";
  AppendViewJson(FullView(), &out);
  EXPECT_EQ(out, "prefix:" + ViewJson(FullView()));
}

TEST(CodecTest, AppendViewJsonWritesIntoReservedSpaceInPlace) {
  std::string out;
  out.reserve(4096);
  const char* before = out.data();
  for (int i = 0; i < 10; ++i) AppendViewJson(FullView(), &out);
  EXPECT_EQ(out.data(), before);
  EXPECT_EQ(out.size(), 10 * ViewJson(FullView()).size());
}

TEST(CodecTest, ExtremeIntegersSerialize) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(ViewJson(View{.user_id = "x", .last_seen_ms = max}),
            R"({"userId":"x","lastSeen":9223372036854775807})");
  const ClientFrame frame = PresenceFrame{.timestamp = max};
  EXPECT_EQ(MustParseClient(Serialize(frame)), frame);
}

TEST(CodecTest, BulkFrameIsPrefixViewsSeparatorSuffix) {
  const View a = FullView();
  const View b{.user_id = "carol", .status = Status::kAway};
  const View c{.user_id = "dave"};
  EXPECT_EQ(Serialize(BulkFrame{.updates = {a, b, c}}),
            std::string(kBulkFramePrefix) + ViewJson(a) +
                std::string(kBulkFrameSeparator) + ViewJson(b) +
                std::string(kBulkFrameSeparator) + ViewJson(c) +
                std::string(kBulkFrameSuffix));
  EXPECT_EQ(Serialize(BulkFrame{}),
            std::string(kBulkFramePrefix) + std::string(kBulkFrameSuffix));
  EXPECT_EQ(Serialize(BulkFrame{.updates = {c}}),
            R"({"type":"presence_bulk","updates":[{"userId":"dave"}]})");
}

TEST(CodecTest, SplicedBulkParses) {
  // The hub builds bulk frames from pre-encoded views; the client must read
  // them like any other.
  std::string text(kBulkFramePrefix);
  AppendViewJson(FullView(), &text);
  text += kBulkFrameSeparator;
  AppendViewJson(View{.user_id = "z"}, &text);
  text += kBulkFrameSuffix;
  EXPECT_EQ(
      MustParseServer(text),
      ServerFrame(BulkFrame{.updates = {FullView(), View{.user_id = "z"}}}));
}

TEST(CodecTest, JsonStringEscapes) {
  std::string out;
  AppendJsonString("a\"b\\c\nd\re\tf\bg\fh\x01i\x1Fj\x7F/", &out);
  EXPECT_EQ(out, R"("a\"b\\c\nd\re\tf\bg\fh\u0001i\u001fj)"
                 "\x7F"
                 R"(/")");
  out.clear();
  AppendJsonString("\0"s, &out);
  EXPECT_EQ(out, R"("\u0000")");
  out.clear();
  AppendJsonString("", &out);
  EXPECT_EQ(out, R"("")");
}

TEST(CodecTest, JsonStringKeepsValidUtf8) {
  const std::string text =
      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF";
  std::string out;
  AppendJsonString(text, &out);
  EXPECT_EQ(out, "\"" + text + "\"");
}

TEST(CodecTest, JsonStringReplacesInvalidUtf8) {
  const std::string kReplacement = "\xEF\xBF\xBD";
  const auto escaped = [](std::string_view text) {
    std::string out;
    AppendJsonString(text, &out);
    return out;
  };
  EXPECT_EQ(escaped("a\xFF"
                    "b"),
            "\"a" + kReplacement + "b\"");
  EXPECT_EQ(escaped("\xC0\x80"), "\"" + kReplacement + kReplacement + "\"");
  EXPECT_EQ(escaped("\xED\xA0\x80"),
            "\"" + kReplacement + kReplacement + kReplacement + "\"");
  EXPECT_EQ(escaped("x\xE2\x82"), "\"x" + kReplacement + kReplacement + "\"");
  EXPECT_EQ(
      escaped("\xF4\x90\x80\x80"),
      "\"" + kReplacement + kReplacement + kReplacement + kReplacement + "\"");
}

TEST(CodecTest, InvalidUtf8StillSerializesToValidFrames) {
  const std::string text = Serialize(ActivityFrame{
      .activity = Activity::Viewing("/p\xFF\xC3"), .user_id = "a"});
  EXPECT_EQ(MustParseClient(text),
            ClientFrame(ActivityFrame{
                .activity = Activity::Viewing("/p\xEF\xBF\xBD\xEF\xBF\xBD"),
                .user_id = "a"}));
  const std::string error =
      Serialize(ErrorFrame{.code = ErrorCode::kLimit, .message = "\x80"});
  EXPECT_EQ(MustParseServer(error),
            ServerFrame(ErrorFrame{.code = ErrorCode::kLimit,
                                   .message = "\xEF\xBF\xBD"}));
}

// ------------------------------------------------------------ round trips

TEST(CodecTest, EveryClientFrameRoundTrips) {
  for (const ClientFrame& frame : SampleClientFrames()) {
    const std::string text = Serialize(frame);
    EXPECT_EQ(MustParseClient(text), frame) << text;
  }
}

TEST(CodecTest, EveryServerFrameRoundTrips) {
  for (const ServerFrame& frame : SampleServerFrames()) {
    const std::string text = Serialize(frame);
    EXPECT_EQ(MustParseServer(text), frame) << text;
  }
}

TEST(CodecTest, ControlCharactersAndEmojiRoundTrip) {
  std::string text;
  for (char c = 0; c < 0x20; ++c) text.push_back(c);
  text += "\"\\/\x7F \xF0\x9F\x91\x8B\xF0\x9F\x8F\xBD caf\xC3\xA9 \xE2\x80\xA8";
  ASSERT_TRUE(IsValidText(text));
  const ClientFrame client = ActivityFrame{.activity = Activity::Busy(text)};
  EXPECT_EQ(MustParseClient(Serialize(client)), client);
  const ServerFrame server =
      BulkFrame{.updates = {View{.user_id = "x",
                                 .status = Status::kOnline,
                                 .activity = Activity::Viewing(text)}}};
  EXPECT_EQ(MustParseServer(Serialize(server)), server);
  const ServerFrame error =
      ErrorFrame{.code = ErrorCode::kBadRequest, .message = text};
  EXPECT_EQ(MustParseServer(Serialize(error)), error);
}

TEST(CodecTest, LongestValuesRoundTrip) {
  const std::string id(kMaxIdLength, 'i');
  const std::string page(kMaxTextLength, '\x01');  // 6 bytes each escaped
  const ClientFrame auth = AuthFrame{.token = std::string(kMaxTokenLength, 't'),
                                     .device = Device::kWeb,
                                     .session = id,
                                     .user_id = id};
  EXPECT_EQ(MustParseClient(Serialize(auth)), auth);
  const ClientFrame activity =
      ActivityFrame{.activity = Activity::Viewing(page)};
  EXPECT_EQ(MustParseClient(Serialize(activity)), activity);
}

// ------------------------------------------------- ProtocolRule: rejection

TEST(ProtocolRule, MalformedJsonIsRejected) {
  for (std::string_view bad :
       {"", " ", "{", "}", R"({"type":"heartbeat")", R"({"type":"heartbeat",})",
        R"({"type":"heartbeat"}})", R"({"type":"heartbeat"} {})",
        R"({'type':'heartbeat'})", R"({type:"heartbeat"})",
        R"({"type":"heartbeat"/*c*/})", R"({"type":"heart)", "nul",
        R"({"type":"heartbeat","n":01})", R"({"type":"heartbeat","n":NaN})",
        R"({"type":"heartbeat","s":"\x"})", "\x7B\x22"}) {
    EXPECT_EQ(ClientError(bad), "frame is not valid JSON in UTF-8") << bad;
    EXPECT_EQ(ServerError(bad), "frame is not valid JSON in UTF-8") << bad;
  }
}

TEST(ProtocolRule, InvalidUtf8IsRejected) {
  for (std::string_view bad : {
           "{\"type\":\"heartbeat\",\"x\":\"\xFF\"}",
           "{\"type\":\"heartbeat\",\"x\":\"\xC0\x80\"}",
           "{\"type\":\"heartbeat\",\"x\":\"\xED\xA0\x80\"}",
           "{\"type\":\"heartbeat\",\"x\":\"\xF4\x90\x80\x80\"}",
           "{\"type\":\"heartbeat\",\"x\":\"\xE2\x82\"}",
           R"({"type":"heartbeat","x":"\ud800"})",  // lone surrogate escape
           R"({"type":"heartbeat","x":"\udc00\ud800"})",
           "{\"type\":\"heartbeat\"}\xFF",
       }) {
    EXPECT_EQ(ClientError(bad), "frame is not valid JSON in UTF-8") << bad;
  }
}

TEST(ProtocolRule, NonObjectIsRejected) {
  for (std::string_view bad :
       {"[]", R"(["heartbeat"])", R"("heartbeat")", "1", "null", "true"}) {
    EXPECT_EQ(ClientError(bad), "frame must be a JSON object") << bad;
    EXPECT_EQ(ServerError(bad), "frame must be a JSON object") << bad;
  }
}

TEST(ProtocolRule, MissingTypeIsRejected) {
  EXPECT_EQ(ClientError("{}"), "type: missing");
  EXPECT_EQ(ClientError(R"({"Type":"heartbeat"})"), "type: missing");
  EXPECT_EQ(ServerError(R"({"updates":[]})"), "type: missing");
}

TEST(ProtocolRule, NonStringTypeIsRejected) {
  for (std::string_view bad :
       {R"({"type":1})", R"({"type":null})", R"({"type":["heartbeat"]})",
        R"({"type":{"name":"heartbeat"}})", R"({"type":true})"}) {
    EXPECT_EQ(ClientError(bad), "type: must be a string") << bad;
  }
}

TEST(ProtocolRule, UnknownTypeIsRejected) {
  for (std::string_view bad :
       {R"({"type":"hello"})", R"({"type":"Heartbeat"})", R"({"type":""})",
        R"({"type":"heartbeat "})", R"({"type":"subscribe"})"}) {
    EXPECT_EQ(ClientError(bad), "type: unknown frame type") << bad;
    EXPECT_EQ(ServerError(bad), "type: unknown frame type") << bad;
  }
}

TEST(ProtocolRule, OneInvalidIdRejectsTheWholeFrame) {
  EXPECT_EQ(
      ClientError(
          R"({"type":"presence_subscribe","userIds":["a","b","c","d e","f"]})"),
      "userIds[3]: invalid id");
  EXPECT_EQ(
      ClientError(R"({"type":"presence_unsubscribe","userIds":["a",""]})"),
      "userIds[1]: invalid id");
  EXPECT_EQ(
      ClientError(
          R"({"type":"presence_subscribe","userIds":["a",7],"replace":true})"),
      "userIds[1]: invalid id");
  EXPECT_EQ(ClientError(R"({"type":"presence_subscribe","userIds":[null]})"),
            "userIds[0]: invalid id");
  EXPECT_EQ(ClientError(R"({"type":"presence_subscribe","userIds":["a/b"]})"),
            "userIds[0]: invalid id");
  const std::string too_long(kMaxIdLength + 1, 'a');
  EXPECT_EQ(ClientError(R"({"type":"presence_subscribe","userIds":[")" +
                        too_long + R"("]})"),
            "userIds[0]: invalid id");
}

TEST(ProtocolRule, InvalidUserIdClaimIsRejected) {
  EXPECT_EQ(ClientError(R"({"type":"heartbeat","userId":"a b"})"),
            "userId: invalid id");
  EXPECT_EQ(ClientError(R"({"type":"presence","status":"online","userId":""})"),
            "userId: invalid id");
  EXPECT_EQ(ClientError(R"({"type":"presence","status":"online","userId":5})"),
            "userId: must be a string");
  EXPECT_EQ(
      ClientError(
          R"({"type":"presence_subscribe","userIds":[],"userId":"caf\u00e9"})"),
      "userId: invalid id");
  EXPECT_EQ(
      ClientError(
          R"({"type":"auth","token":"t","device":"web","userId":"x\u0000"})"),
      "userId: invalid id");
}

TEST(ProtocolRule, InvalidSessionIsRejected) {
  EXPECT_EQ(
      ClientError(
          R"({"type":"auth","token":"t","device":"web","session":"s 1"})"),
      "session: invalid id");
  EXPECT_EQ(
      ClientError(R"({"type":"auth","token":"t","device":"web","session":""})"),
      "session: invalid id");
  EXPECT_EQ(
      ClientError(R"({"type":"auth","token":"t","device":"web","session":12})"),
      "session: must be a string");
}

TEST(ProtocolRule, WrongJsonTypesAreRejected) {
  EXPECT_EQ(ClientError(R"({"type":"presence","status":5})"),
            "status: must be one of online, away, offline");
  EXPECT_EQ(ClientError(R"({"type":"presence_subscribe","userIds":"a"})"),
            "userIds: must be an array of ids");
  EXPECT_EQ(
      ClientError(R"({"type":"presence_unsubscribe","userIds":{"0":"a"}})"),
      "userIds: must be an array of ids");
  EXPECT_EQ(
      ClientError(
          R"({"type":"presence_subscribe","userIds":[],"replace":"true"})"),
      "replace: must be true or false");
  EXPECT_EQ(
      ClientError(R"({"type":"presence_subscribe","userIds":[],"replace":1})"),
      "replace: must be true or false");
  EXPECT_EQ(
      ClientError(R"({"type":"presence","status":"away","timestamp":"123"})"),
      "timestamp: must be a non-negative integer");
  EXPECT_EQ(
      ClientError(R"({"type":"presence","status":"away","timestamp":1.5})"),
      "timestamp: must be a non-negative integer");
  EXPECT_EQ(ClientError(R"({"type":"auth","token":5,"device":"web"})"),
            "token: must be a string");
  EXPECT_EQ(ClientError(R"({"type":"auth","token":"t","device":1})"),
            "device: must be one of web, mobile, desktop");
  EXPECT_EQ(ClientError(R"({"type":"activity","activity":"typing"})"),
            "activity: must be an object");
  EXPECT_EQ(
      ClientError(
          R"({"type":"activity","activity":{"type":"viewing","page":5}})"),
      "activity.page: must be a string");
  EXPECT_EQ(ClientError(R"({"type":"activity","activity":{"type":7}})"),
            "activity.type: must be one of viewing, typing, idle, busy");
}

TEST(ProtocolRule, NullIsNotAbsence) {
  // Optional fields are omitted, never null: null is a wrong type.
  EXPECT_EQ(ClientError(
                R"({"type":"auth","token":"t","device":"web","session":null})"),
            "session: must be a string");
  EXPECT_EQ(ClientError(R"({"type":"heartbeat","userId":null})"),
            "userId: must be a string");
  EXPECT_EQ(
      ClientError(R"({"type":"presence","status":"away","timestamp":null})"),
      "timestamp: must be a non-negative integer");
}

TEST(ProtocolRule, InvalidEnumStringsAreRejected) {
  EXPECT_EQ(ClientError(R"({"type":"presence","status":"busy"})"),
            "status: must be one of online, away, offline");
  EXPECT_EQ(ClientError(R"({"type":"presence","status":"Online"})"),
            "status: must be one of online, away, offline");
  EXPECT_EQ(
      ClientError(
          R"({"type":"auth","token":"t","device":"web","status":"hidden"})"),
      "status: must be one of online, away, offline");
  EXPECT_EQ(ClientError(R"({"type":"auth","token":"t","device":"tv"})"),
            "device: must be one of web, mobile, desktop");
  EXPECT_EQ(
      ClientError(R"({"type":"activity","activity":{"type":"sleeping"}})"),
      "activity.type: must be one of viewing, typing, idle, busy");
}

TEST(ProtocolRule, MissingRequiredFieldsAreRejected) {
  EXPECT_EQ(ClientError(R"({"type":"auth","device":"web"})"), "token: missing");
  EXPECT_EQ(ClientError(R"({"type":"auth","token":"t"})"), "device: missing");
  EXPECT_EQ(ClientError(R"({"type":"presence"})"), "status: missing");
  EXPECT_EQ(ClientError(R"({"type":"activity"})"), "activity: missing");
  EXPECT_EQ(ClientError(R"({"type":"activity","activity":{}})"),
            "activity.type: missing");
  EXPECT_EQ(ClientError(R"({"type":"presence_subscribe","replace":true})"),
            "userIds: missing");
  EXPECT_EQ(ClientError(R"({"type":"presence_unsubscribe"})"),
            "userIds: missing");
}

TEST(ProtocolRule, ActivityNeedsTheFieldOfItsKind) {
  EXPECT_EQ(ClientError(R"({"type":"activity","activity":{"type":"viewing"}})"),
            "activity.page: missing");
  EXPECT_EQ(
      ClientError(
          R"({"type":"activity","activity":{"type":"typing","page":"/p"}})"),
      "activity.conversationId: missing");
  EXPECT_EQ(
      ClientError(
          R"({"type":"activity","activity":{"type":"busy","conversationId":"c"}})"),
      "activity.reason: missing");
}

TEST(ProtocolRule, ActivityTextMustBeValidText) {
  const std::string ok(kMaxTextLength, 'p');
  const std::string too_long(kMaxTextLength + 1, 'p');
  EXPECT_EQ(MustParseClient(
                R"({"type":"activity","activity":{"type":"viewing","page":")" +
                ok + R"("}})"),
            ClientFrame(ActivityFrame{.activity = Activity::Viewing(ok)}));
  EXPECT_EQ(
      ClientError(R"({"type":"activity","activity":{"type":"busy","reason":")" +
                  too_long + R"("}})"),
      "activity.reason: must be UTF-8 text of at most 1024 bytes");
  // Escapes count as the bytes they decode to: 1024 x \u00e9 is 2048 bytes.
  std::string escaped;
  for (size_t i = 0; i < kMaxTextLength; ++i) escaped += R"(\u00e9)";
  EXPECT_EQ(
      ClientError(
          R"({"type":"activity","activity":{"type":"typing","conversationId":")" +
          escaped + R"("}})"),
      "activity.conversationId: must be UTF-8 text of at most 1024 bytes");
}

TEST(ProtocolRule, TokenMustBeNonEmptyAndBounded) {
  EXPECT_EQ(ClientError(R"({"type":"auth","token":"","device":"web"})"),
            "token: must not be empty");
  const std::string longest(kMaxTokenLength, 't');
  EXPECT_EQ(MustParseClient(R"({"type":"auth","token":")" + longest +
                            R"(","device":"web"})"),
            ClientFrame(AuthFrame{.token = longest, .device = Device::kWeb}));
  EXPECT_EQ(ClientError(R"({"type":"auth","token":")" + longest +
                        R"(t","device":"web"})"),
            "token: too long (max 8192 bytes)");
}

TEST(ProtocolRule, SubscribeOfMoreThanMaxIdsIsRejected) {
  const std::string over = R"({"type":"presence_subscribe","userIds":)" +
                           IdArray(kMaxIdsPerFrame + 1) + "}";
  ASSERT_LE(over.size(), kMaxFrameBytes);  // rejected for the count alone
  EXPECT_EQ(ClientError(over), "userIds: too many ids (max 10000)");
  EXPECT_EQ(ClientError(R"({"type":"presence_unsubscribe","userIds":)" +
                        IdArray(kMaxIdsPerFrame + 1) + "}"),
            "userIds: too many ids (max 10000)");

  const std::string at_limit = R"({"type":"presence_subscribe","userIds":)" +
                               IdArray(kMaxIdsPerFrame) + "}";
  const ClientFrame frame = MustParseClient(at_limit);
  ASSERT_TRUE(std::holds_alternative<SubscribeFrame>(frame));
  const auto& ids = std::get<SubscribeFrame>(frame).user_ids;
  ASSERT_EQ(ids.size(), kMaxIdsPerFrame);
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(ids[i], ShortId(i)) << i;
  }
}

TEST(ProtocolRule, EmptySubscribeIsValid) {
  EXPECT_EQ(MustParseClient(R"({"type":"presence_subscribe","userIds":[]})"),
            ClientFrame(SubscribeFrame{}));
  EXPECT_EQ(MustParseClient(
                R"({"type":"presence_subscribe","userIds":[],"replace":true})"),
            ClientFrame(SubscribeFrame{.replace = true}));
}

TEST(ProtocolRule, FrameOverMaxBytesIsRejected) {
  const std::string head = R"({"type":"heartbeat","pad":")";
  const std::string tail = R"("})";
  const std::string seventy_kb =
      head + std::string(70 * 1024 - head.size() - tail.size(), 'x') + tail;
  EXPECT_EQ(ClientError(seventy_kb), "frame is too large (max 65536 bytes)");
  const std::string at_limit =
      head + std::string(kMaxFrameBytes - head.size() - tail.size(), 'x') +
      tail;
  ASSERT_EQ(at_limit.size(), kMaxFrameBytes);
  EXPECT_EQ(MustParseClient(at_limit), ClientFrame(HeartbeatFrame{}));
  const std::string one_over =
      head + std::string(kMaxFrameBytes + 1 - head.size() - tail.size(), 'x') +
      tail;
  EXPECT_EQ(ClientError(one_over), "frame is too large (max 65536 bytes)");
}

TEST(ProtocolRule, ServerFramesMayExceedClientFrameLimit) {
  // The answer to a subscribe of kMaxIdsPerFrame ids is larger than any
  // client frame may be; the client must still read it.
  BulkFrame bulk;
  for (size_t i = 0; i < kMaxIdsPerFrame; ++i) {
    bulk.updates.push_back(View{.user_id = "user-" + std::to_string(i),
                                .status = Status::kOffline,
                                .last_seen_ms = 1700000000000});
  }
  const std::string text = Serialize(bulk);
  ASSERT_GT(text.size(), kMaxFrameBytes);
  EXPECT_EQ(MustParseServer(text), ServerFrame(bulk));
}

TEST(ProtocolRule, InvalidViewRejectsTheWholeBulk) {
  EXPECT_EQ(
      ServerError(
          R"({"type":"presence_bulk","updates":[{"userId":"a"},{"userId":"b","status":"gone"}]})"),
      "updates[1].status: must be one of online, away, offline");
  EXPECT_EQ(ServerError(
                R"({"type":"presence_bulk","updates":[{"status":"online"}]})"),
            "updates[0].userId: missing");
  EXPECT_EQ(
      ServerError(R"({"type":"presence_bulk","updates":[{"userId":"a b"}]})"),
      "updates[0].userId: invalid id");
  EXPECT_EQ(
      ServerError(
          R"({"type":"presence_bulk","updates":[{"userId":"a","lastSeen":1.5}]})"),
      "updates[0].lastSeen: must be a non-negative integer");
  EXPECT_EQ(
      ServerError(
          R"({"type":"presence_bulk","updates":[{"userId":"a","device":"tv"}]})"),
      "updates[0].device: must be one of web, mobile, desktop");
  EXPECT_EQ(
      ServerError(
          R"({"type":"presence_bulk","updates":[{"userId":"a"},{"userId":"b"},{"userId":"c","activity":{"type":"viewing"}}]})"),
      "updates[2].activity.page: missing");
  EXPECT_EQ(
      ServerError(R"({"type":"presence_bulk","updates":[{"userId":"a"},"b"]})"),
      "updates[1]: must be an object");
  EXPECT_EQ(ServerError(R"({"type":"presence_bulk","updates":{}})"),
            "updates: must be an array of views");
  EXPECT_EQ(ServerError(R"({"type":"presence_bulk"})"), "updates: missing");
}

TEST(ProtocolRule, InvalidWelcomeIsRejected) {
  EXPECT_EQ(
      ServerError(
          R"({"type":"welcome","userId":"a","heartbeatMs":1,"serverTime":1})"),
      "session: missing");
  EXPECT_EQ(
      ServerError(
          R"({"type":"welcome","userId":"a","session":"s","heartbeatMs":0,"serverTime":1})"),
      "heartbeatMs: must be a positive integer");
  EXPECT_EQ(
      ServerError(
          R"({"type":"welcome","userId":"a","session":"s","heartbeatMs":1,"serverTime":-1})"),
      "serverTime: must be a non-negative integer");
  EXPECT_EQ(
      ServerError(
          R"({"type":"welcome","userId":"a b","session":"s","heartbeatMs":1,"serverTime":1})"),
      "userId: invalid id");
}

TEST(ProtocolRule, InvalidErrorFrameIsRejected) {
  EXPECT_EQ(ServerError(R"({"type":"error","code":"oops","message":"m"})"),
            "code: must be one of unauthorized, forbidden, bad_request, "
            "rate_limited, limit, unavailable");
  EXPECT_EQ(ServerError(R"({"type":"error","code":"limit"})"),
            "message: missing");
  EXPECT_EQ(ServerError(R"({"type":"error","code":"limit","message":3})"),
            "message: must be a string");
}

// ------------------------------------------------------------- numbers

TEST(CodecTest, OutOfRangeAndNonIntegerNumbersAreRejected) {
  const auto presence = [](std::string_view timestamp) {
    return R"({"type":"presence","status":"online","timestamp":)" +
           std::string(timestamp) + "}";
  };
  EXPECT_EQ(ClientError(presence("1e400")), "frame is not valid JSON in UTF-8");
  EXPECT_EQ(ClientError(presence("-1e400")),
            "frame is not valid JSON in UTF-8");
  for (std::string_view bad :
       {"1.5", "1e3", "1.0", "-1", "-9223372036854775808",
        "9223372036854775808", "18446744073709551615", "18446744073709551616",
        "1e-400", "true"}) {
    EXPECT_EQ(ClientError(presence(bad)),
              "timestamp: must be a non-negative integer")
        << bad;
  }
  EXPECT_EQ(MustParseClient(presence("-0")),
            ClientFrame(PresenceFrame{.timestamp = 0}));
  EXPECT_EQ(MustParseClient(presence("9223372036854775807")),
            ClientFrame(PresenceFrame{
                .timestamp = std::numeric_limits<int64_t>::max()}));
  // A huge number in an ignored field still makes the JSON invalid.
  EXPECT_EQ(ClientError(R"({"type":"heartbeat","x":1e400})"),
            "frame is not valid JSON in UTF-8");
  EXPECT_EQ(MustParseClient(
                R"({"type":"heartbeat","x":123456789012345678901234567890})"),
            ClientFrame(HeartbeatFrame{}));
}

// ------------------------------------------------------- hostile input

TEST(CodecTest, DeepNestingIsRejectedCheaply) {
  const std::string deep(100000, '[');
  EXPECT_EQ(ClientError(deep), "frame is too large (max 65536 bytes)");
  // Under the size limit it is the depth scan that stops it.
  EXPECT_EQ(ServerError(deep), "frame is nested too deeply");
  EXPECT_EQ(ClientError(std::string(60000, '[') + std::string(60000 - 1, ']')),
            "frame is too large (max 65536 bytes)");
  EXPECT_EQ(ClientError(std::string(30000, '[') + std::string(30000, ']')),
            "frame is nested too deeply");
  std::string objects;
  for (int i = 0; i < 5000; ++i) objects += R"({"a":)";
  EXPECT_EQ(ClientError(objects), "frame is nested too deeply");
  EXPECT_EQ(ClientError(R"({"type":"heartbeat","x":)" + std::string(20, '[') +
                        std::string(20, ']') + "}"),
            "frame is nested too deeply");
}

TEST(CodecTest, NestingUpToEightLevelsIsAllowed) {
  // The frame object is level 1; an extra field may nest 7 more.
  EXPECT_EQ(MustParseClient(R"({"type":"heartbeat","x":)" +
                            std::string(7, '[') + std::string(7, ']') + "}"),
            ClientFrame(HeartbeatFrame{}));
  EXPECT_EQ(ClientError(R"({"type":"heartbeat","x":)" + std::string(8, '[') +
                        std::string(8, ']') + "}"),
            "frame is nested too deeply");
}

TEST(CodecTest, BracketsInsideStringsDoNotCountAsNesting) {
  const std::string page =
      std::string(100, '[') + "\\\"{{{{{{{{{{" + std::string(100, '{');
  const ClientFrame frame = MustParseClient(
      R"({"type":"activity","activity":{"type":"viewing","page":")" + page +
      R"("}})");
  EXPECT_EQ(
      frame,
      ClientFrame(ActivityFrame{
          .activity = Activity::Viewing(std::string(100, '[') + "\"{{{{{{{{{{" +
                                        std::string(100, '{'))}));
  // An escaped backslash before the closing quote really ends the string,
  // so the nesting after it counts.
  EXPECT_EQ(ClientError(R"({"type":"heartbeat","x":"\\","y":)" +
                        std::string(8, '[') + std::string(8, ']') + "}"),
            "frame is nested too deeply");
  EXPECT_EQ(MustParseClient(R"({"type":"heartbeat","x":"\\","y":[[[]]]})"),
            ClientFrame(HeartbeatFrame{}));
}

TEST(CodecTest, RandomBytesNeverCrash) {
  Prng prng(0x5EED);
  // Mostly JSON punctuation and fragments, so some inputs get deep into the
  // parser rather than failing at the first byte.
  const std::vector<std::string_view> pieces = {"{",
                                                "}",
                                                "[",
                                                "]",
                                                "\"",
                                                ":",
                                                ",",
                                                "\\",
                                                "\\u",
                                                "d83d",
                                                "0",
                                                "-",
                                                "1e9",
                                                ".5",
                                                "true",
                                                "null",
                                                "\"type\"",
                                                "\"auth\"",
                                                "\"presence\"",
                                                "\"heartbeat\"",
                                                "\"activity\"",
                                                "\"presence_subscribe\"",
                                                "\"presence_unsubscribe\"",
                                                "\"welcome\"",
                                                "\"presence_bulk\"",
                                                "\"error\"",
                                                "\"userIds\"",
                                                "\"userId\"",
                                                "\"status\"",
                                                "\"online\"",
                                                "\"token\"",
                                                "\"device\"",
                                                "\"web\"",
                                                "\"updates\"",
                                                "\"viewing\"",
                                                "\"page\"",
                                                "\xFF",
                                                "\xC3",
                                                "\xE2\x82",
                                                "\xF0\x9F\x98\x80",
                                                " ",
                                                "\n",
                                                "\x01"};
  for (int i = 0; i < 4000; ++i) {
    std::string text;
    const uint32_t length = prng.Below(64);
    for (uint32_t k = 0; k < length; ++k) {
      if (prng.Below(4) == 0) {
        text.push_back(static_cast<char>(prng.Below(256)));
      } else {
        text += pieces[prng.Below(static_cast<uint32_t>(pieces.size()))];
      }
    }
    CheckClientParseIsTotal(text);
    CheckServerParseIsTotal(text);
    if (HasFatalFailure()) return;
  }
}

TEST(CodecTest, EveryTruncationOfAValidFrameIsRejected) {
  for (const ClientFrame& frame : SampleClientFrames()) {
    const std::string text = Serialize(frame);
    for (size_t n = 0; n < text.size(); ++n) {
      EXPECT_TRUE(std::holds_alternative<CodecError>(
          ParseClientFrame(std::string_view(text).substr(0, n))))
          << text.substr(0, n);
    }
  }
  for (const ServerFrame& frame : SampleServerFrames()) {
    const std::string text = Serialize(frame);
    for (size_t n = 0; n < text.size(); ++n) {
      EXPECT_TRUE(std::holds_alternative<CodecError>(
          ParseServerFrame(std::string_view(text).substr(0, n))))
          << text.substr(0, n);
    }
  }
}

TEST(CodecTest, ByteFlipsOfValidFramesGiveAFrameOrAnError) {
  size_t accepted = 0;
  size_t rejected = 0;
  for (const ClientFrame& frame : SampleClientFrames()) {
    const std::string text = Serialize(frame);
    for (size_t i = 0; i < text.size(); ++i) {
      for (unsigned mask : {0x01u, 0x20u, 0x80u, 0xFFu}) {
        std::string mutated = text;
        mutated[i] = static_cast<char>(mutated[i] ^ mask);
        CheckClientParseIsTotal(mutated);
        if (HasFatalFailure()) return;
        (std::holds_alternative<CodecError>(ParseClientFrame(mutated))
             ? rejected
             : accepted)++;
      }
    }
  }
  for (const ServerFrame& frame : SampleServerFrames()) {
    const std::string text = Serialize(frame);
    for (size_t i = 0; i < text.size(); ++i) {
      for (unsigned mask : {0x01u, 0x20u, 0x80u, 0xFFu}) {
        std::string mutated = text;
        mutated[i] = static_cast<char>(mutated[i] ^ mask);
        CheckServerParseIsTotal(mutated);
        if (HasFatalFailure()) return;
      }
    }
  }
  // Both outcomes occur: some flips hit free text, most break the frame.
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(rejected, accepted);
}

TEST(CodecTest, RandomSplicesOfValidFramesGiveAFrameOrAnError) {
  Prng prng(42);
  std::vector<std::string> corpus;
  for (const ClientFrame& f : SampleClientFrames())
    corpus.push_back(Serialize(f));
  for (const ServerFrame& f : SampleServerFrames())
    corpus.push_back(Serialize(f));
  const auto pick = [&]() -> const std::string& {
    return corpus[prng.Below(static_cast<uint32_t>(corpus.size()))];
  };
  for (int i = 0; i < 3000; ++i) {
    const std::string& a = pick();
    const std::string& b = pick();
    std::string text =
        a.substr(0, prng.Below(static_cast<uint32_t>(a.size()) + 1)) +
        b.substr(prng.Below(static_cast<uint32_t>(b.size()) + 1));
    // A few in-place edits on top.
    for (uint32_t k = prng.Below(3); k > 0 && !text.empty(); --k) {
      text[prng.Below(static_cast<uint32_t>(text.size()))] =
          static_cast<char>(prng.Below(256));
    }
    CheckClientParseIsTotal(text);
    CheckServerParseIsTotal(text);
    if (HasFatalFailure()) return;
  }
}

// ---- ReadPlainBulk: the client's in-place reader of presence_bulk ----

// Reads `text` both ways; the plain reader must accept it and agree.
void ExpectPlainMatchesTree(std::string_view text) {
  SCOPED_TRACE(text);
  std::vector<ViewRef> refs;
  ASSERT_TRUE(ReadPlainBulk(text, &refs));
  Parsed<ServerFrame> parsed = ParseServerFrame(text);
  ASSERT_TRUE(std::holds_alternative<ServerFrame>(parsed));
  const auto& bulk = std::get<BulkFrame>(std::get<ServerFrame>(parsed));
  ASSERT_EQ(refs.size(), bulk.updates.size());
  for (size_t i = 0; i < refs.size(); ++i) {
    EXPECT_TRUE(refs[i].Matches(bulk.updates[i])) << i;
    View assigned;
    refs[i].AssignTo(&assigned);
    EXPECT_EQ(assigned, bulk.updates[i]) << i;
  }
}

TEST(PlainBulkReaderTest, ReadsWhatTheServerWrites) {
  ExpectPlainMatchesTree(
      R"({"type":"presence_bulk","updates":[{"userId":"bob","status":"online","lastSeen":1700000000123,"device":"mobile","activity":{"type":"typing","conversationId":"conv-1"}},{"userId":"x"}]})");
  ExpectPlainMatchesTree(R"({"type":"presence_bulk","updates":[]})");
  ExpectPlainMatchesTree(
      " {\"updates\" : [ {\"userId\":\"a\",\"lastSeen\":0} ,{\"userId\":\"b\","
      "\"activity\":{\"type\":\"idle\"}}],\n\"type\":\"presence_bulk\"}\r\n");
  ExpectPlainMatchesTree(
      R"({"type":"presence_bulk","updates":[{"userId":"a","activity":{"page":"café ü","type":"viewing"}}]})");
}

// Each status and device the server writes is matched in place; the tree
// parser must read the same.
TEST(PlainBulkReaderTest, ReadsEveryStatusAndDevice) {
  for (std::string_view status : {"online", "away", "offline"}) {
    for (std::string_view device : {"web", "mobile", "desktop"}) {
      ExpectPlainMatchesTree(
          std::string(
              R"({"type":"presence_bulk","updates":[{"userId":"a","status":")") +
          std::string(status) + R"(","lastSeen":1700000000000,"device":")" +
          std::string(device) + R"("}]})");
    }
  }
}

TEST(PlainBulkReaderTest, WhatTheServerWritesRoundTrips) {
  BulkFrame bulk;
  View a{"alice", Status::kAway, 1700000000000, Device::kDesktop,
         Activity::Busy("in a meeting – back at 3")};
  View b{"bob", Status::kOnline, std::nullopt, Device::kWeb,
         Activity::Viewing("/docs")};
  bulk.updates = {a, b, View{"carol"}};
  ExpectPlainMatchesTree(Serialize(ServerFrame{bulk}));
}

TEST(PlainBulkReaderTest, LeavesEveryOtherShapeToTheTreeParser) {
  for (
      std::string_view text : {
          // Not a bulk, or not valid, or not plain.
          R"({"type":"welcome","userId":"a","session":"s","heartbeatMs":1,"serverTime":0})",
          R"({"type":"presence_bulk"})",
          R"({"updates":[]})",
          R"({"type":"presence_bulk","updates":[]} x)",
          R"({"type":"presence_bulk","updates":[],})",
          R"({"type":"presence_bulk","updates":[{"userId":"a"},]})",
          R"({"type":"presence_bulk","updates":[{}]})",
          R"({"type":"presence_bulk","updates":[{"status":"online"}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a b"}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","status":"gone"}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","status":"offlinex"}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","device":"desktops"}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","device":"mobil"}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","status":null}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","lastSeen":-1}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","lastSeen":1.0}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","lastSeen":1e3}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","lastSeen":01}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","lastSeen":9223372036854775807}]})",
          // 19 digits past int64: refused before the overflow (UBSan).
          R"({"type":"presence_bulk","updates":[{"userId":"a","lastSeen":9999999999999999999}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","userId":"b"}]})",
          R"({"type":"presence_bulk","type":"presence_bulk","updates":[]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","mood":"ok"}]})",
          R"({"type":"presence_bulk","updates":[],"seq":4})",
          R"({"type":"presence_bulk","updates":[{"userId":"\u0061"}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","activity":{"type":"idle","page":"x"}}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","activity":{"type":"typing"}}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","activity":{"type":"viewing","reason":"x"}}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","activity":{"type":"viewing","page":"a\"b"}}]})",
          "{\"type\":\"presence_bulk\",\"updates\":[{\"userId\":\"a\","
          "\"activity\":"
          "{\"type\":\"viewing\",\"page\":\"\xff\"}}]}",
          "{\"type\":\"presence_bulk\",\"updates\":[{\"userId\":\"a\","
          "\"activity\":"
          "{\"type\":\"viewing\",\"page\":\"a\tb\"}}]}",
          "\xef\xbb\xbf{\"type\":\"presence_bulk\",\"updates\":[]}",
      }) {
    SCOPED_TRACE(text);
    std::vector<ViewRef> refs;
    EXPECT_FALSE(ReadPlainBulk(text, &refs));
    EXPECT_TRUE(refs.empty());
  }
}

// ---- ReadPlainIdList: the server's in-place reader of (un)subscribe ----

// Reads `text` both ways; the plain reader must accept it and agree.
void ExpectIdListMatchesTree(std::string_view text) {
  SCOPED_TRACE(text.substr(0, 200));
  IdListRef ref;
  ASSERT_TRUE(ReadPlainIdList(text, &ref));
  Parsed<ClientFrame> parsed = ParseClientFrame(text);
  ASSERT_TRUE(std::holds_alternative<ClientFrame>(parsed));
  const ClientFrame& frame = std::get<ClientFrame>(parsed);
  std::vector<std::string> ids(ref.user_ids.begin(), ref.user_ids.end());
  std::optional<std::string> user_id;
  if (ref.user_id) user_id = std::string(*ref.user_id);
  if (ref.unsubscribe) {
    ASSERT_TRUE(std::holds_alternative<UnsubscribeFrame>(frame));
    EXPECT_EQ((UnsubscribeFrame{ids, user_id}),
              std::get<UnsubscribeFrame>(frame));
    EXPECT_FALSE(ref.replace);
  } else {
    ASSERT_TRUE(std::holds_alternative<SubscribeFrame>(frame));
    EXPECT_EQ((SubscribeFrame{ids, ref.replace, user_id}),
              std::get<SubscribeFrame>(frame));
  }
}

TEST(PlainIdListReaderTest, ReadsWhatTheClientWrites) {
  // The most ids a frame may carry, short enough to fit kMaxFrameBytes.
  std::vector<std::string> many;
  for (size_t i = 0; i < kMaxIdsPerFrame; ++i) {
    constexpr std::string_view kDigits = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string id;
    for (size_t n = i; id.empty() || n != 0; n /= kDigits.size()) {
      id.push_back(kDigits[n % kDigits.size()]);
    }
    many.push_back(std::move(id));
  }
  ASSERT_LE(Serialize(ClientFrame{SubscribeFrame{many}}).size(),
            kMaxFrameBytes);
  for (const ClientFrame& frame : std::vector<ClientFrame>{
           SubscribeFrame{{"a", "b.c", "d@e"}, true, std::nullopt},
           SubscribeFrame{{"a"}, false, "me"},
           SubscribeFrame{{}, false, std::nullopt},
           SubscribeFrame{many, false, std::nullopt},
           UnsubscribeFrame{{"a", "a", "b"}, "me"},
           UnsubscribeFrame{{}, std::nullopt},
       }) {
    ExpectIdListMatchesTree(Serialize(frame));
  }
  ExpectIdListMatchesTree(
      " {\"userIds\" : [ \"x\" , \"y\" ],\n\"replace\":false ,"
      "\"type\":\"presence_subscribe\"}\r\n");
  // An unsubscribe's replace is an ignored extra member, as in the tree.
  ExpectIdListMatchesTree(
      R"({"type":"presence_unsubscribe","userIds":["a"],"replace":true})");
}

TEST(PlainIdListReaderTest, DuplicatesAreKeptInOrderForTheHub) {
  IdListRef ref;
  ASSERT_TRUE(ReadPlainIdList(
      R"({"type":"presence_subscribe","userIds":["b","a","b"]})", &ref));
  EXPECT_EQ(ref.user_ids, (std::vector<std::string_view>{"b", "a", "b"}));
}

TEST(PlainIdListReaderTest, LeavesEveryOtherShapeToTheTreeParser) {
  std::string too_many = R"({"type":"presence_subscribe","userIds":[)";
  for (size_t i = 0; i <= kMaxIdsPerFrame; ++i) {
    too_many += (i == 0 ? "\"u" : ",\"u") + std::to_string(i) + "\"";
  }
  too_many += "]}";
  std::string too_big =
      R"({"type":"presence_subscribe","userIds":["a"],"userId":"a"})";
  too_big.insert(1, kMaxFrameBytes, ' ');
  for (
      std::string_view text : std::vector<std::string_view>{
          R"({"type":"presence","status":"online"})",
          R"({"type":"presence_subscribe"})",
          R"({"userIds":["a"]})",
          R"({"type":"presence_bulk","userIds":["a"]})",
          R"({"type":"presence_subscribe","userIds":["a"]} x)",
          R"({"type":"presence_subscribe","userIds":["a"],})",
          R"({"type":"presence_subscribe","userIds":["a",]})",
          R"({"type":"presence_subscribe","userIds":"a"})",
          R"({"type":"presence_subscribe","userIds":[1]})",
          R"({"type":"presence_subscribe","userIds":[null]})",
          R"({"type":"presence_subscribe","userIds":["a b"]})",
          R"({"type":"presence_subscribe","userIds":[""]})",
          R"({"type":"presence_subscribe","userIds":["\u0061"]})",
          R"({"type":"presence_subscribe","userIds":["a"],"replace":1})",
          R"({"type":"presence_subscribe","userIds":["a"],"replace":truex})",
          R"({"type":"presence_subscribe","userIds":["a"],"replace":"true"})",
          R"({"type":"presence_subscribe","userIds":["a"],"replace":null})",
          R"({"type":"presence_subscribe","userIds":["a"],"userId":"a b"})",
          R"({"type":"presence_subscribe","userIds":["a"],"userId":7})",
          R"({"type":"presence_subscribe","userIds":["a"],"userIds":["b"]})",
          R"({"type":"presence_subscribe","type":"presence_subscribe","userIds":[]})",
          R"({"type":"presence_subscribe","userIds":["a"],"seq":4})",
          R"({"type":"presence_subscribe","userIds":[["a"]]})",
          "{\"type\":\"presence_subscribe\",\"userIds\":[\"\xff\"]}",
          "{\"type\":\"presence_subscribe\",\"userIds\":[\"a\tb\"]}",
          "\xef\xbb\xbf{\"type\":\"presence_subscribe\",\"userIds\":[]}",
          too_many,
          too_big,
      }) {
    SCOPED_TRACE(text.substr(0, 100));
    IdListRef ref;
    EXPECT_FALSE(ReadPlainIdList(text, &ref));
    EXPECT_TRUE(ref.user_ids.empty());
    EXPECT_FALSE(ref.user_id);
  }
}

}  // namespace
}  // namespace presence
