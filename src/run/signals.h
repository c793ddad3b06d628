// SIGINT/SIGTERM/SIGUSR1 handling for runs: the first signal asks for a graceful stop (stop
// dispatching, finish running tasks within the grace period, flush, exit 3); a second one during
// the grace period makes the stop immediate (still flushing what is done).
#pragma once

namespace fersweep::run {

/// Installs handlers for SIGINT, SIGTERM and SIGUSR1 that only set flags (async-signal-safe). The
/// first signal also arms cancellation (core/cancel.h) `grace_seconds` later, a second one at once.
void install_stop_handlers();
/// The grace period the next first signal arms cancellation with (set before work starts).
void set_grace_period(double grace_seconds);
/// Number of stop signals received so far.
int stop_requests();
/// The last signal received (0 if none).
int last_stop_signal();
/// Forgets earlier signals (tests).
void reset_stop_requests();

}  // namespace fersweep::run
