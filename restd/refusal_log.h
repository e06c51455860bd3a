// RefusalLog: one log line for each connection or request restd refuses or drops, saying
// which limit did it, without letting a flood flood the log. The first refusal per (limit,
// peer address) in a window is logged as it comes; repeats are only counted, and EndWindow()
// sums them up in one line. The owner calls EndWindow() every kRefusalLogWindow.
//
//   RefusalLog log;
//   log.Note("restd.max_connections_per_address (8)", "10.0.0.7",
//            "refused a connection from 10.0.0.7: restd.max_connections_per_address (8) ...");
//   ... every minute: log.EndWindow();
//
// Thread-safe.
#ifndef RESTD_REFUSAL_LOG_H_
#define RESTD_REFUSAL_LOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace edge::restd {

// How often repeats are summed up; the "per minute" of "the first per address per minute".
inline constexpr absl::Duration kRefusalLogWindow = absl::Minutes(1);
// At most this many (limit, address) pairs are logged one by one per window; more are only
// counted, so that a flood from many addresses costs bounded memory and log.
inline constexpr size_t kRefusalLogMaxPairs = 256;
// Peer-supplied text in a log line: escaped (C style) and cut to this many bytes first.
inline constexpr size_t kLoggedPeerBytes = 64;

// `peer_bytes` fit for a log line: at most kLoggedPeerBytes of it, C-escaped (quotes and
// control bytes included), "..." when cut.
std::string EscapeForLog(absl::string_view peer_bytes);

class RefusalLog {
 public:
  enum class Severity { kInfo, kWarning };
  using Sink = std::function<void(Severity, absl::string_view line)>;

  // `sink` defaults to the daemon log (LogInfo / LogWarning).
  explicit RefusalLog(Sink sink = nullptr, size_t max_pairs = kRefusalLogMaxPairs);

  // One refusal or drop: `limit` names it with its value ("restd.header_timeout (20000
  // ms)"); `line` is the whole line to log when it is the first for (limit, address) in
  // this window.
  void Note(absl::string_view limit, absl::string_view address, absl::string_view line,
            Severity severity = Severity::kWarning);

  // Ends the window: one line with the count per limit of what was only counted (nothing
  // when everything was logged one by one), then every pair may be logged again.
  void EndWindow();

 private:
  Sink sink_;
  size_t max_pairs_;
  absl::Mutex mu_;
  std::set<std::string> logged_ ABSL_GUARDED_BY(mu_);          // limit + '\n' + address
  std::map<std::string, uint64_t> counted_ ABSL_GUARDED_BY(mu_);  // limit -> not logged
};

}  // namespace edge::restd

#endif  // RESTD_REFUSAL_LOG_H_
