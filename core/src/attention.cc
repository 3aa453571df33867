#include "presence/attention.h"

namespace presence {

bool Attention::SetVisible(bool visible, int64_t now_ms) {
  const bool was_away = away();
  visible_ = visible;
  if (visible) {
    // Coming back to a tab is the strongest sign of someone at it; the
    // window it is in has the focus too, whatever an earlier blur said.
    focused_ = true;
    Touch(now_ms);
  }
  return away() != was_away;
}

bool Attention::SetFocused(bool focused, int64_t now_ms) {
  const bool was_away = away();
  focused_ = focused;
  if (focused) {
    visible_ = true;
    Touch(now_ms);
  }
  return away() != was_away;
}

bool Attention::HandleInput(int64_t now_ms) {
  const bool was_away = away();
  Touch(now_ms);
  return away() != was_away;
}

bool Attention::HandleTimeout(int64_t now_ms) {
  const std::optional<int64_t> due = deadline();
  if (!due || now_ms < *due) return false;
  const bool was_away = away();
  idle_ = true;
  return away() != was_away;
}

std::optional<int64_t> Attention::deadline() const {
  if (idle_ms_ <= 0 || idle_ || !visible_ || !focused_ || !last_input_ms_) {
    return std::nullopt;
  }
  return *last_input_ms_ + idle_ms_;
}

void Attention::Touch(int64_t now_ms) {
  last_input_ms_ = now_ms;
  idle_ = false;
}

}  // namespace presence
