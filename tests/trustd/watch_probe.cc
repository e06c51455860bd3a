// A separate process for the WatchTrust limit tests: run as one uid, it opens COUNT
// WatchTrust streams on one connection (gRPC's callback API: no thread per stream) and
// reports on stdout what became of them; then it takes commands on stdin.
//   watch_probe SOCKET COUNT
// Output, once every stream has its first snapshot or has ended (at most 20 s):
//   refused <grpc code> <message>     one line per stream that ended
//   ready <open> <ended>
// Commands:
//   wait <generation>   -> "seen <generation> <streams whose last snapshot is that new>",
//                          once every open stream has it or after 20 s
//   end of input        -> cancels every stream, waits for them, exits 0
// Exit codes: 0 done, 100 bad arguments, 101 streams not resolved in time.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/trust/v1/trust.grpc.pb.h"

namespace {

namespace v1 = ::trust::v1;

// Shared by every stream: what main waits for.
struct Tally {
  absl::Mutex mu;
  int resolved ABSL_GUARDED_BY(mu) = 0;  // Streams with a first snapshot or ended.
  int done ABSL_GUARDED_BY(mu) = 0;      // Streams whose OnDone ran.
};

class Stream final : public grpc::ClientReadReactor<v1::TrustSnapshot> {
 public:
  Stream(v1::TrustService::Stub* stub, Tally* tally) : tally_(tally) {
    stub->async()->WatchTrust(&context_, &request_, this);
    StartRead(&snapshot_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status.
    {
      absl::MutexLock lock(&tally_->mu);
      generation_ = snapshot_.generation();
      if (!resolved_) {
        resolved_ = true;
        ++tally_->resolved;
      }
    }
    StartRead(&snapshot_);
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&tally_->mu);
    status_ = status;
    ended_ = true;
    if (!resolved_) {
      resolved_ = true;
      ++tally_->resolved;
    }
    ++tally_->done;
  }

  void Cancel() { context_.TryCancel(); }

  // Under tally_->mu.
  bool ended() const { return ended_; }
  uint64_t generation() const { return generation_; }
  const grpc::Status& status() const { return status_; }

 private:
  Tally* tally_;
  grpc::ClientContext context_;
  v1::WatchTrustRequest request_;
  v1::TrustSnapshot snapshot_;
  bool resolved_ = false;
  bool ended_ = false;
  uint64_t generation_ = 0;
  grpc::Status status_;
};

}  // namespace

int main(int argc, char** argv) {
  int count = 0;
  if (argc != 3 || !absl::SimpleAtoi(argv[2], &count) || count < 1) return 100;
  auto channel = grpc::CreateChannel(absl::StrCat("unix:", argv[1]),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::TrustService::NewStub(channel);
  Tally tally;
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < count; ++i) streams.push_back(std::make_unique<Stream>(stub.get(), &tally));

  {
    absl::MutexLock lock(&tally.mu);
    auto all_resolved = [&]() ABSL_SHARED_LOCKS_REQUIRED(tally.mu) {
      return tally.resolved == count;
    };
    if (!tally.mu.AwaitWithTimeout(absl::Condition(&all_resolved), absl::Seconds(20))) {
      std::cout << "ready timeout " << tally.resolved << " of " << count << std::endl;
      std::_Exit(101);
    }
    int ended = 0;
    for (const auto& s : streams) {
      if (!s->ended()) continue;
      ++ended;
      std::cout << "refused " << s->status().error_code() << " " << s->status().error_message()
                << "\n";
    }
    std::cout << "ready " << count - ended << " " << ended << std::endl;
  }

  std::string line;
  while (std::getline(std::cin, line)) {
    uint64_t want = 0;
    if (!absl::SimpleAtoi(absl::StripPrefix(line, "wait "), &want)) continue;
    absl::MutexLock lock(&tally.mu);
    auto all_seen = [&]() ABSL_SHARED_LOCKS_REQUIRED(tally.mu) {
      for (const auto& s : streams) {
        if (!s->ended() && s->generation() < want) return false;
      }
      return true;
    };
    tally.mu.AwaitWithTimeout(absl::Condition(&all_seen), absl::Seconds(20));
    int seen = 0;
    for (const auto& s : streams) seen += !s->ended() && s->generation() >= want;
    std::cout << "seen " << want << " " << seen << std::endl;
  }

  for (const auto& s : streams) s->Cancel();
  absl::MutexLock lock(&tally.mu);
  auto all_done = [&]() ABSL_SHARED_LOCKS_REQUIRED(tally.mu) { return tally.done == count; };
  tally.mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(20));
  return 0;
}
