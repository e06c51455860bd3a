#include "trustd/trust_service.h"

#include "gtest/gtest.h"

namespace edge::trustd {
namespace {

namespace v1 = ::trust::v1;

v1::ValidatePeerRequest Request(std::vector<size_t> cert_sizes, size_t name = 11,
                                size_t endpoint = 15) {
  v1::ValidatePeerRequest r;
  r.set_purpose(v1::PLATFORM);
  for (size_t n : cert_sizes) r.add_chain_der(std::string(n, '\x30'));
  r.set_peer_name(std::string(name, 'n'));
  r.set_endpoint(std::string(endpoint, 'e'));
  return r;
}

TEST(CheckValidatePeerRequestTest, RefusesEachLimitNamingTheFieldWhatItHoldsAndTheLimit) {
  struct Case {
    const char* name;
    v1::ValidatePeerRequest request;
    std::string error;  // Empty: accepted.
  } cases[] = {
      {"an ordinary chain", Request({1200, 1100}), ""},
      {"no certificate (a refusal by the engine, not a bad request)", Request({}), ""},
      {"every limit reached, none exceeded",
       Request(std::vector<size_t>(8, 64 * 1024), 253, 512), ""},
      {"the report's chain", Request(std::vector<size_t>(40, 75 * 1024)),
       "chain_der: 40 certificates, at most 16"},
      {"17 small certificates", Request(std::vector<size_t>(17, 100)),
       "chain_der: 17 certificates, at most 16"},
      {"one certificate too large", Request({1000, 65537}),
       "chain_der[1]: 65537 bytes, at most 65536 per certificate"},
      {"too many bytes in all",
       Request({65536, 65536, 65536, 65536, 65536, 65536, 65536, 65536, 1}),
       "chain_der: 524289 bytes in all, at most 524288"},
      {"a name longer than a DNS name", Request({1000}, 254),
       "peer_name: 254 bytes, at most 253 (a DNS name or an IP address)"},
      {"an endpoint too long", Request({1000}, 11, 513), "endpoint: 513 bytes, at most 512"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    grpc::Status status = CheckValidatePeerRequest(c.request);
    if (c.error.empty()) {
      EXPECT_TRUE(status.ok()) << status.error_message();
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(status.error_message(), c.error);
    }
  }
}

TEST(CheckValidatePeerRequestTest, EveryAcceptedRequestFitsGrpcsMessageLimit) {
  // The largest request the limits accept: gRPC must let it through, so that the caller
  // gets the field-by-field answer and not gRPC's.
  std::vector<size_t> sizes(kMaxChainBytes / kMaxCertificateBytes, kMaxCertificateBytes);
  v1::ValidatePeerRequest largest = Request(sizes, kMaxPeerNameBytes, kMaxEndpointBytes);
  ASSERT_TRUE(CheckValidatePeerRequest(largest).ok());
  EXPECT_LE(largest.ByteSizeLong(), static_cast<size_t>(kMaxRequestMessageBytes));
  std::vector<size_t> many(kMaxChainCertificates, kMaxChainBytes / kMaxChainCertificates);
  v1::ValidatePeerRequest most = Request(many, kMaxPeerNameBytes, kMaxEndpointBytes);
  ASSERT_TRUE(CheckValidatePeerRequest(most).ok());
  EXPECT_LE(most.ByteSizeLong(), static_cast<size_t>(kMaxRequestMessageBytes));
}

}  // namespace
}  // namespace edge::trustd
