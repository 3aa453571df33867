// Attention: whether someone is at the page, from the signals a browser gives.
//
// The rule (DESIGN.md "Client"): a page is away while it is hidden or has
// lost focus, or once `idle_ms` pass without input; it is present again when
// it is shown, focused or used. Showing or focusing the page counts as input.
// `idle_ms <= 0` turns idleness off, and so does a host that never reports
// input, showing or focusing: the idle clock starts with the first of them,
// so a client without a page (a script, a server) never goes idle.
//
// Sans-I/O like the rest of the core: each input carries the current time,
// `deadline()` says when `HandleTimeout` must be called for idleness to be
// noticed, and `away()` is the answer. Input is O(1) and never moves a timer
// earlier, so a host may forward every mouse move and keep one timer: firing
// it early is harmless (HandleTimeout re-checks), and the next deadline is
// read afterwards.

#ifndef PRESENCE_ATTENTION_H_
#define PRESENCE_ATTENTION_H_

#include <cstdint>
#include <optional>

namespace presence {

inline constexpr int64_t kDefaultIdleMs = 300'000;

class Attention {
 public:
  explicit Attention(int64_t idle_ms) : idle_ms_(idle_ms) {}

  // Each returns true if away() changed.
  bool SetVisible(bool visible, int64_t now_ms);
  bool SetFocused(bool focused, int64_t now_ms);
  bool HandleInput(int64_t now_ms);
  bool HandleTimeout(int64_t now_ms);

  bool away() const { return !visible_ || !focused_ || idle_; }
  bool visible() const { return visible_; }
  bool focused() const { return focused_; }
  bool idle() const { return idle_; }
  // When idleness would set in; nullopt while it cannot (already idle, page
  // hidden or blurred, or idleness off).
  std::optional<int64_t> deadline() const;

 private:
  // Input, showing or focusing: the person is here as of `now_ms`.
  void Touch(int64_t now_ms);

  int64_t idle_ms_;
  // A page starts shown and focused; the host reports otherwise before it
  // starts the session, so a tab opened in the background starts away.
  bool visible_ = true;
  bool focused_ = true;
  bool idle_ = false;
  // Unset until the first input, showing or focusing: no idle clock.
  std::optional<int64_t> last_input_ms_;
};

}  // namespace presence

#endif  // PRESENCE_ATTENTION_H_
