// Fuzz target: an ACME CA that answers anything. The input is a sequence of responses
// (separated by "\n--\n"; each one's first byte picks its HTTP status) that the client gets
// in order for its directory, nonce, account, order, authorization, challenge, finalize
// and certificate requests, and for renewalInfo. Whatever comes, the client ends with a
// value or an error, never crashes or loops, and every error message stays bounded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "services/acme/acme_client.h"
#include "services/acme/acme_crypto.h"

namespace {

using edge::acme::HttpResponse;

class ScriptedTransport : public edge::acme::Transport {
 public:
  explicit ScriptedTransport(std::vector<std::string> bodies) : bodies_(std::move(bodies)) {}
  absl::StatusOr<HttpResponse> Send(const std::string&, const std::string&, const std::string&,
                                    const std::string&) override {
    if (next_ >= bodies_.size()) return absl::UnavailableError("the CA went away");
    std::string body = bodies_[next_++];
    static const int kStatus[] = {200, 201, 400, 404, 429, 500};
    HttpResponse r;
    r.status = body.empty() ? 200 : kStatus[static_cast<unsigned char>(body[0]) % 6];
    r.body = body.empty() ? body : body.substr(1);
    r.location = "https://ca.example/obj/" + std::to_string(next_);
    r.replay_nonce = "nonce" + std::to_string(next_);
    r.retry_after = "0";
    return r;
  }

 private:
  std::vector<std::string> bodies_;
  size_t next_ = 0;
};

class NullResponder : public edge::acme::ChallengeResponder {
 public:
  std::string type() const override { return "http-01"; }
  absl::Status Publish(const edge::acme::Identifier&, const std::string&,
                       const std::string&) override {
    return absl::OkStatus();
  }
  void Withdraw() override {}
};

void CheckBounded(const absl::Status& s) {
  if (s.message().size() > 8192) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  static edge::UniqueEvpPkey* key =
      new edge::UniqueEvpPkey(*edge::acme::GenerateKey("ec-p256"));
  std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> bodies = absl::StrSplit(input, "\n--\n");
  if (bodies.size() > 64) return 0;
  ScriptedTransport transport(bodies);
  NullResponder responder;
  int waits = 0;
  // No real sleeping; a poll loop ends when the script runs out or after 100 waits.
  edge::acme::AcmeClient client(&transport, "https://ca.example/dir", key->get(),
                                [&waits](absl::Duration) { return ++waits < 100; });
  absl::Status s = client.Register({"mailto:ops@example.test"}, "", "");
  CheckBounded(s);
  if (s.ok()) {
    absl::StatusOr<std::string> pem =
        client.Obtain({"gw.example.test", "127.0.0.1"}, key->get(), &responder, "");
    CheckBounded(pem.status());
  }
  if (client.last_problem() && client.last_problem()->ToString().size() > 2048) std::abort();
  return 0;
}
