// Cooperative cancellation of long work. A stop signal arms a deadline (the grace period after it,
// or "now" on a second signal); loops that can run for minutes — extraction batches, training
// epochs, channel statistics — call throw_if_cancelled() between steps, so a stop request is
// honoured within the grace period plus one step, in every mode. The abandoned task reruns on
// resume. Lock-free atomics only: the deadline is set from a signal handler.
#pragma once

#include <string_view>

#include "core/error.h"

namespace fersweep {

/// Thrown at a cancellation point after the deadline. Exit code 3, like any interruption; a
/// task that throws it is not a failed attempt (the coordinator neither journals nor retries it).
class CancelledError : public InterruptedError {
 public:
  using InterruptedError::InterruptedError;
};

/// Work checked after `seconds_from_now` (0: at once) is cancelled. Async-signal-safe. An earlier
/// deadline already set is kept.
void cancel_after(double seconds_from_now) noexcept;
/// True once the deadline has passed.
bool cancel_due() noexcept;
/// True once a deadline is armed (a stop was requested), even if it has not passed: long work
/// saves what it can (a task checkpoint) while the grace period lasts.
bool stop_requested() noexcept;
/// Throws CancelledError ("`what` cancelled: stop requested and the grace period is over") when
/// cancel_due().
void throw_if_cancelled(std::string_view what);
/// Disarms (tests, and a process that starts a new run).
void reset_cancel() noexcept;

}  // namespace fersweep
