// LeakSanitizer suppressions, compiled into every binary that links OpenSSL (so the daemons
// that tests start under --config=asan have them too). Each entry is a leak inside a system
// library that this project's code cannot reach, with the evidence for it. Outside ASan,
// nothing calls this.
//
// OpenSSL 3.0's RFC 5280 policy processing (X509_V_FLAG_POLICY_CHECK, on in the trust
// engine): X509_policy_check decodes a certificate's policy extensions into the policy
// cache with X509V3_EXT_d2i and, for a path it refuses (a non-critical policyConstraints,
// for one), loses a 16-byte POLICY_CONSTRAINTS with its ASN1_INTEGER. Every frame below
// X509_verify_cert is libcrypto's; the certificates and stores themselves are freed (no
// X509 or X509_STORE is reported).
extern "C" const char* __lsan_default_suppressions() {
  return "leak:X509_policy_check\n";
}
