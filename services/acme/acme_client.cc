#include "services/acme/acme_client.h"

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "services/acme/acme_crypto.h"

namespace edge::acme {
namespace {

constexpr char kJose[] = "application/jose+json";
constexpr size_t kMaxShown = 300;         // Of a detail or URL in a message.
constexpr size_t kMaxAuthorizations = 100;
constexpr size_t kMaxChallenges = 16;
constexpr int kMaxBadNonceRetries = 5;    // RFC 8555 section 6.5: retry with the new nonce.

std::string Shown(absl::string_view text) {
  std::string out = absl::CEscape(text.substr(0, kMaxShown));
  if (text.size() > kMaxShown) absl::StrAppend(&out, "...");
  return out;
}

// A string member, or "" when absent or not a string.
std::string Member(const json::Value& v, absl::string_view key) {
  if (!v.is_object()) return "";
  const json::Value* m = v.Find(key);
  return m != nullptr && m->is_string() ? m->str() : "";
}

std::vector<std::string> StringArray(const json::Value& v, absl::string_view key, size_t limit) {
  std::vector<std::string> out;
  const json::Value* m = v.is_object() ? v.Find(key) : nullptr;
  if (m == nullptr || !m->is_array()) return out;
  for (const json::Value& item : m->array()) {
    if (item.is_string() && out.size() < limit) out.push_back(item.str());
  }
  return out;
}

json::Value Str(std::string s) { return json::Value::String(std::move(s)); }

std::optional<Problem> ProblemOf(const json::Value& v, int status) {
  if (!v.is_object() || Member(v, "type").empty()) return std::nullopt;
  return Problem{Shown(Member(v, "type")), Shown(Member(v, "detail")), status};
}

// Retry-After in seconds (RFC 9110 section 10.2.3; an HTTP date is taken as 1 s), within
// [min, max].
absl::Duration RetryAfter(const std::string& value, absl::Duration fallback) {
  int64_t seconds = 0;
  absl::Duration d = absl::SimpleAtoi(value, &seconds) ? absl::Seconds(seconds) : fallback;
  return std::clamp(d, absl::Milliseconds(200), absl::Seconds(30));
}

}  // namespace

std::string Problem::ToString() const {
  std::string out = type;
  if (!detail.empty()) absl::StrAppend(&out, ": ", detail);
  if (status != 0) absl::StrAppend(&out, " (HTTP ", status, ")");
  return out;
}

Identifier IdentifierFor(const std::string& name) {
  return {IsIpLiteral(name) ? "ip" : "dns", name};
}

AcmeClient::AcmeClient(Transport* transport, std::string directory_url, EVP_PKEY* account_key,
                       std::function<bool(absl::Duration)> wait, absl::Duration poll_limit)
    : transport_(transport),
      directory_url_(std::move(directory_url)),
      account_key_(account_key),
      wait_(std::move(wait)),
      poll_limit_(poll_limit) {}

absl::Status AcmeClient::Refused(const std::string& step, const HttpResponse& response) {
  absl::StatusOr<json::Value> body = json::Parse(response.body);
  std::optional<Problem> problem = body.ok() ? ProblemOf(*body, response.status) : std::nullopt;
  if (!problem) problem = Problem{"", "", response.status};
  last_problem_ = problem;
  std::string what = problem->type.empty()
                         ? absl::StrCat("HTTP ", response.status, " without a problem document")
                         : problem->ToString();
  absl::StatusCode code = response.status >= 500 || response.status == 429
                              ? absl::StatusCode::kUnavailable
                              : absl::StatusCode::kFailedPrecondition;
  return absl::Status(code, absl::StrCat(step, ": the CA refused: ", what));
}

absl::Status AcmeClient::LoadDirectory() {
  if (directory_) return absl::OkStatus();
  absl::StatusOr<HttpResponse> r = transport_->Send("GET", directory_url_, "", "");
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("reading the ACME directory ", Shown(directory_url_), ": ",
                                     r.status().message()));
  }
  if (r->status != 200) return Refused(absl::StrCat("reading the ACME directory"), *r);
  absl::StatusOr<json::Value> v = json::Parse(r->body);
  if (!v.ok() || !v->is_object()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the ACME directory ", Shown(directory_url_), " is not a JSON object"));
  }
  Directory d;
  d.new_nonce = Member(*v, "newNonce");
  d.new_account = Member(*v, "newAccount");
  d.new_order = Member(*v, "newOrder");
  d.renewal_info = Member(*v, "renewalInfo");
  if (const json::Value* meta = v->Find("meta"); meta != nullptr && meta->is_object()) {
    const json::Value* eab = meta->Find("externalAccountRequired");
    d.external_account_required = eab != nullptr && eab->is_bool() && eab->boolean();
  }
  if (d.new_nonce.empty() || d.new_account.empty() || d.new_order.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the ACME directory ", Shown(directory_url_),
        " lacks newNonce, newAccount or newOrder (RFC 8555 section 7.1.1): is it an ACME "
        "directory URL?"));
  }
  directory_ = std::move(d);
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> AcmeClient::Post(const std::string& url, const std::string& payload,
                                              const std::string& step, bool use_jwk) {
  absl::StatusOr<std::string> alg = JwsAlgorithm(account_key_);
  if (!alg.ok()) return alg.status();
  for (int attempt = 0;; ++attempt) {
    if (nonce_.empty()) {
      absl::StatusOr<HttpResponse> n = transport_->Send("HEAD", directory_->new_nonce, "", "");
      if (!n.ok()) {
        return absl::Status(n.status().code(),
                            absl::StrCat(step, ": getting a nonce: ", n.status().message()));
      }
      if (n->replay_nonce.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat(step, ": the CA's newNonce answered without a Replay-Nonce"));
      }
      nonce_ = n->replay_nonce;
    }
    json::Object header{{"alg", Str(*alg)}};
    if (use_jwk) {
      absl::StatusOr<json::Value> jwk = PublicJwk(account_key_);
      if (!jwk.ok()) return jwk.status();
      header.emplace_back("jwk", *jwk);
    } else {
      header.emplace_back("kid", Str(account_url_));
    }
    header.emplace_back("nonce", Str(nonce_));
    header.emplace_back("url", Str(url));
    nonce_.clear();
    absl::StatusOr<json::Value> jws =
        SignJws(account_key_, json::Value::MakeObject(std::move(header)), payload);
    if (!jws.ok()) return jws.status();
    absl::StatusOr<HttpResponse> r = transport_->Send("POST", url, json::Write(*jws), kJose);
    if (!r.ok()) {
      return absl::Status(r.status().code(), absl::StrCat(step, ": ", r.status().message()));
    }
    nonce_ = r->replay_nonce;
    if (r->status >= 200 && r->status < 300) {
      last_problem_.reset();
      return r;
    }
    absl::StatusOr<json::Value> body = json::Parse(r->body);
    if (body.ok() && Member(*body, "type") == "urn:ietf:params:acme:error:badNonce" &&
        attempt < kMaxBadNonceRetries) {
      continue;
    }
    return Refused(step, *r);
  }
}

absl::StatusOr<json::Value> AcmeClient::PostJson(const std::string& url,
                                                 const std::string& payload,
                                                 const std::string& step,
                                                 HttpResponse* response) {
  absl::StatusOr<HttpResponse> r = Post(url, payload, step);
  if (!r.ok()) return r.status();
  absl::StatusOr<json::Value> v = json::Parse(r->body);
  if (!v.ok() || !v->is_object()) {
    return absl::FailedPreconditionError(
        absl::StrCat(step, ": the CA's answer is not a JSON object"));
  }
  if (response != nullptr) *response = *std::move(r);
  return v;
}

absl::Status AcmeClient::Register(const std::vector<std::string>& contact,
                                  const std::string& eab_key_id,
                                  const std::string& eab_hmac_key) {
  if (absl::Status s = LoadDirectory(); !s.ok()) return s;
  absl::StatusOr<std::string> thumbprint = JwkThumbprint(account_key_);
  if (!thumbprint.ok()) return thumbprint.status();
  thumbprint_ = *thumbprint;
  json::Array contacts;
  for (const std::string& c : contact) contacts.push_back(Str(c));
  json::Object payload{{"termsOfServiceAgreed", json::Value::Bool(true)},
                       {"contact", json::Value::MakeArray(std::move(contacts))}};
  if (!eab_key_id.empty()) {
    absl::StatusOr<json::Value> eab = ExternalAccountBinding(account_key_, eab_key_id,
                                                             eab_hmac_key, directory_->new_account);
    if (!eab.ok()) return eab.status();
    payload.emplace_back("externalAccountBinding", *eab);
  } else if (directory_->external_account_required) {
    return absl::FailedPreconditionError(
        "creating the ACME account: the CA requires External Account Binding "
        "(meta.externalAccountRequired); set trustd.acme.external_account_binding.key_id and "
        "hmac_key to what the CA handed out");
  }
  absl::StatusOr<HttpResponse> r =
      Post(directory_->new_account, json::Write(json::Value::MakeObject(std::move(payload))),
           "creating the ACME account", /*use_jwk=*/true);
  if (!r.ok()) return r.status();
  if (r->location.empty()) {
    return absl::FailedPreconditionError(
        "creating the ACME account: the CA answered without the account URL (Location)");
  }
  account_url_ = r->location;
  return absl::OkStatus();
}

absl::StatusOr<json::Value> AcmeClient::PollUntil(const std::string& url, const std::string& step,
                                                  const std::vector<std::string>& pending) {
  absl::Time give_up = absl::Now() + poll_limit_;
  for (;;) {
    HttpResponse r;
    absl::StatusOr<json::Value> v = PostJson(url, "", step, &r);
    if (!v.ok()) return v;
    std::string status = Member(*v, "status");
    if (std::find(pending.begin(), pending.end(), status) == pending.end()) return v;
    if (absl::Now() >= give_up) {
      return absl::DeadlineExceededError(absl::StrCat(step, ": still \"", Shown(status),
                                                      "\" after ", absl::FormatDuration(poll_limit_)));
    }
    if (!wait_(RetryAfter(r.retry_after, absl::Seconds(1)))) {
      return absl::CancelledError(absl::StrCat(step, ": trustd is stopping"));
    }
  }
}

absl::Status AcmeClient::Authorize(const std::string& authz_url, ChallengeResponder* responder) {
  std::string step = "reading an authorization";
  absl::StatusOr<json::Value> authz = PostJson(authz_url, "", step);
  if (!authz.ok()) return authz.status();
  const json::Value* ident = authz->Find("identifier");
  std::string name = ident != nullptr ? Member(*ident, "value") : "";
  Identifier identifier{ident != nullptr ? Member(*ident, "type") : "", name};
  step = absl::StrCat("validating ", Shown(name));
  std::string status = Member(*authz, "status");
  if (status == "valid") return absl::OkStatus();
  if (status != "pending") {
    return absl::FailedPreconditionError(
        absl::StrCat(step, ": the authorization is \"", Shown(status), "\", not pending"));
  }
  const json::Value* challenges = authz->Find("challenges");
  std::string url, token;
  std::vector<std::string> offered;
  if (challenges != nullptr && challenges->is_array()) {
    for (const json::Value& c : challenges->array()) {
      if (offered.size() >= kMaxChallenges) break;
      std::string type = Member(c, "type");
      offered.push_back(Shown(type));
      if (type == responder->type() && url.empty()) {
        url = Member(c, "url");
        token = Member(c, "token");
      }
    }
  }
  if (url.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(step, ": the CA offers no ", responder->type(), " challenge (offered: ",
                     offered.empty() ? "none" : absl::StrJoin(offered, ", "),
                     "); set trustd.acme.challenge to one it offers"));
  }
  // RFC 8555 section 8.1: the token is base64url, at least 128 bits of entropy.
  bool token_ok = token.size() >= 22 && token.size() <= 256 &&
                  std::all_of(token.begin(), token.end(), [](char ch) {
                    return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '-' ||
                           ch == '_';
                  });
  if (!token_ok) {
    return absl::FailedPreconditionError(
        absl::StrCat(step, ": the challenge token \"", Shown(token),
                     "\" is not base64url of at least 128 bits (RFC 8555 section 8.1)"));
  }
  if (absl::Status s = responder->Publish(identifier, token, absl::StrCat(token, ".", thumbprint_));
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(step, ": ", s.message()));
  }
  // RFC 8555 section 7.5.1: an empty object tells the CA to validate.
  if (absl::StatusOr<HttpResponse> r = Post(url, "{}", step); !r.ok()) return r.status();
  absl::StatusOr<json::Value> done = PollUntil(authz_url, step, {"pending"});
  if (!done.ok()) return done.status();
  if (Member(*done, "status") == "valid") return absl::OkStatus();
  // The reason is the failed challenge's error (RFC 8555 section 7.1.5).
  if (const json::Value* cs = done->Find("challenges"); cs != nullptr && cs->is_array()) {
    for (const json::Value& c : cs->array()) {
      const json::Value* error = c.is_object() ? c.Find("error") : nullptr;
      if (error == nullptr) continue;
      last_problem_ = ProblemOf(*error, 0);
      if (last_problem_) {
        return absl::FailedPreconditionError(
            absl::StrCat(step, ": the CA refused the ", responder->type(),
                         " challenge: ", last_problem_->ToString()));
      }
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat(step, ": the authorization became \"", Shown(Member(*done, "status")), "\""));
}

absl::StatusOr<std::string> AcmeClient::Obtain(const std::vector<std::string>& names,
                                               EVP_PKEY* key, ChallengeResponder* responder,
                                               const std::string& replaces) {
  if (account_url_.empty()) {
    return absl::FailedPreconditionError("ordering a certificate: no ACME account yet");
  }
  json::Array identifiers;
  for (const std::string& name : names) {
    Identifier id = IdentifierFor(name);
    identifiers.push_back(
        json::Value::MakeObject({{"type", Str(id.type)}, {"value", Str(id.value)}}));
  }
  json::Object payload{{"identifiers", json::Value::MakeArray(std::move(identifiers))}};
  if (!replaces.empty() && !directory_->renewal_info.empty()) {
    payload.emplace_back("replaces", Str(replaces));
  }
  std::string step = absl::StrCat("ordering a certificate for ", Shown(absl::StrJoin(names, ", ")));
  HttpResponse created;
  absl::StatusOr<json::Value> order =
      PostJson(directory_->new_order, json::Write(json::Value::MakeObject(std::move(payload))),
               step, &created);
  if (!order.ok()) return order.status();
  std::string order_url = created.location;
  if (order_url.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(step, ": the CA answered without the order URL (Location)"));
  }
  std::vector<std::string> authorizations =
      StringArray(*order, "authorizations", kMaxAuthorizations);
  absl::Cleanup withdraw = [responder] { responder->Withdraw(); };
  for (const std::string& authz : authorizations) {
    if (absl::Status s = Authorize(authz, responder); !s.ok()) return s;
  }
  std::move(withdraw).Invoke();

  absl::StatusOr<json::Value> ready = PollUntil(order_url, step, {"pending"});
  if (!ready.ok()) return ready.status();
  if (Member(*ready, "status") != "ready" && Member(*ready, "status") != "valid") {
    return absl::FailedPreconditionError(absl::StrCat(
        step, ": the order is \"", Shown(Member(*ready, "status")), "\", not ready to finalize"));
  }
  absl::StatusOr<std::string> csr = MakeCsr(key, names);
  if (!csr.ok()) return csr.status();
  if (Member(*ready, "status") == "ready") {
    json::Value finalize = json::Value::MakeObject({{"csr", Str(Base64Url(*csr))}});
    absl::StatusOr<json::Value> f =
        PostJson(Member(*ready, "finalize"), json::Write(finalize), absl::StrCat(step, " (finalize)"));
    if (!f.ok()) return f.status();
  }
  absl::StatusOr<json::Value> issued = PollUntil(order_url, step, {"ready", "processing"});
  if (!issued.ok()) return issued.status();
  if (Member(*issued, "status") != "valid") {
    if (const json::Value* error = issued->Find("error")) last_problem_ = ProblemOf(*error, 0);
    return absl::FailedPreconditionError(absl::StrCat(
        step, ": the order became \"", Shown(Member(*issued, "status")), "\"",
        last_problem_ ? absl::StrCat(": ", last_problem_->ToString()) : ""));
  }
  std::string cert_url = Member(*issued, "certificate");
  absl::StatusOr<HttpResponse> chain = Post(cert_url, "", absl::StrCat(step, " (download)"));
  if (!chain.ok()) return chain.status();
  return chain->body;
}

std::string AriCertId(X509* cert) {
  int crit = 0;
  AUTHORITY_KEYID* akid = static_cast<AUTHORITY_KEYID*>(
      X509_get_ext_d2i(cert, NID_authority_key_identifier, &crit, nullptr));
  if (akid == nullptr) return "";
  std::string key_id;
  if (akid->keyid != nullptr) {
    key_id.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(akid->keyid)),
                  ASN1_STRING_length(akid->keyid));
  }
  AUTHORITY_KEYID_free(akid);
  if (key_id.empty()) return "";
  // The serial's DER content octets: its two's complement form, leading 0x00 included.
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  unsigned char* der = nullptr;
  int len = i2d_ASN1_INTEGER(serial, &der);
  std::string content;
  if (len > 2) {
    // Tag, then a definite length (one octet under 128, else 0x80 | n and n octets).
    int header = (der[1] & 0x80) ? 2 + (der[1] & 0x7F) : 2;
    if (header < len) content.assign(reinterpret_cast<char*>(der) + header, len - header);
  }
  OPENSSL_free(der);
  if (content.empty()) return "";
  return absl::StrCat(Base64Url(key_id), ".", Base64Url(content));
}

absl::StatusOr<std::optional<RenewalWindow>> AcmeClient::RenewalInfo(X509* cert) {
  if (absl::Status s = LoadDirectory(); !s.ok()) return s;
  if (directory_->renewal_info.empty()) return std::optional<RenewalWindow>();
  std::string id = AriCertId(cert);
  if (id.empty()) return std::optional<RenewalWindow>();
  std::string url = absl::StrCat(absl::StripSuffix(directory_->renewal_info, "/"), "/", id);
  absl::StatusOr<HttpResponse> r = transport_->Send("GET", url, "", "");
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("reading renewalInfo: ", r.status().message()));
  }
  if (r->status != 200) return Refused("reading renewalInfo", *r);
  absl::StatusOr<json::Value> v = json::Parse(r->body);
  const json::Value* window = v.ok() && v->is_object() ? v->Find("suggestedWindow") : nullptr;
  RenewalWindow out;
  std::string error;
  // RFC 9773 section 4.2: start and end are RFC 3339 date-times, start before end.
  if (window == nullptr ||
      !absl::ParseTime(absl::RFC3339_full, Member(*window, "start"), &out.start, &error) ||
      !absl::ParseTime(absl::RFC3339_full, Member(*window, "end"), &out.end, &error) ||
      out.end <= out.start) {
    return absl::FailedPreconditionError(
        "reading renewalInfo: expected suggestedWindow {start, end} as RFC 3339 times with "
        "start before end (RFC 9773 section 4.2)");
  }
  return std::optional<RenewalWindow>(out);
}

}  // namespace edge::acme
