#include "services/common/openssl_util.h"

#include "gtest/gtest.h"

namespace edge {
namespace {

TEST(Asn1TimeToTimeTest, ReadsUtcTimeAndGeneralizedTime) {
  struct Case {
    const char* text;  // As ASN1_TIME_set_string takes it (RFC 5280 4.1.2.5).
    absl::Time want;
  } cases[] = {
      {"491231235959Z", absl::FromCivil(absl::CivilSecond(2049, 12, 31, 23, 59, 59), absl::UTCTimeZone())},
      {"500101000000Z", absl::FromCivil(absl::CivilSecond(1950, 1, 1, 0, 0, 0), absl::UTCTimeZone())},
      {"20500101000000Z", absl::FromCivil(absl::CivilSecond(2050, 1, 1, 0, 0, 0), absl::UTCTimeZone())},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    ASN1_TIME* t = ASN1_TIME_new();
    ASSERT_EQ(ASN1_TIME_set_string(t, c.text), 1);
    EXPECT_EQ(Asn1TimeToTime(t), c.want);
    ASN1_TIME_free(t);
  }
  EXPECT_EQ(Asn1TimeToTime(nullptr), absl::InfinitePast());
}

TEST(IsIpLiteralTest, TellsAddressesFromHostNames) {
  for (const char* ip : {"127.0.0.1", "192.0.2.255", "::1", "2001:db8::1", "::ffff:192.0.2.1"}) {
    SCOPED_TRACE(ip);
    EXPECT_TRUE(IsIpLiteral(ip));
  }
  for (const char* host : {"localhost", "platform.example", "1.2.3.4.example", "", "1.2.3",
                           "[::1]", "256.1.1.1"}) {
    SCOPED_TRACE(host);
    EXPECT_FALSE(IsIpLiteral(host));
  }
}

}  // namespace
}  // namespace edge
