#include "services/common/fingerprint.h"

#include "gtest/gtest.h"

namespace edge {
namespace {

TEST(NormalizeFingerprintTest, AcceptsColonsAndAnyCase) {
  std::string lower(64, 'a');
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("AA");
  EXPECT_EQ(NormalizeFingerprint(colons), lower);
  EXPECT_EQ(NormalizeFingerprint(lower), lower);
  EXPECT_EQ(NormalizeFingerprint("abcd"), "");
  EXPECT_EQ(NormalizeFingerprint(std::string(64, 'g')), "");
}

TEST(ParseSha256FingerprintTest, SaysWhatWasExpectedAndWhatWasFound) {
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"abcdef", "expected 64 hex digits (SHA-256, ':' optional), found 6 hex digits"},
      {std::string(66, 'a'), "expected 64 hex digits (SHA-256, ':' optional), found 66 hex digits"},
      {"zz:aa", "expected 64 hex digits (SHA-256, ':' optional), found THE VALUE, which has "
                "characters that are not hex"},
      {"", "expected 64 hex digits (SHA-256, ':' optional), found 0 hex digits"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<std::string> hex = ParseSha256Fingerprint(c.text, "THE VALUE");
    ASSERT_FALSE(hex.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(hex.status()));
    EXPECT_EQ(hex.status().message(), c.error);
  }
}

TEST(ParseSha256FingerprintTest, GivesTheCanonicalFormForEveryWrittenForm) {
  std::string canonical = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  for (std::string text : {canonical,
                           std::string("00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"),
                           std::string("00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                                       "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"),
                           std::string("0011 2233 4455 6677 8899 aabb ccdd eeff "
                                       "0011 2233 4455 6677 8899 aabb ccdd eeff")}) {
    SCOPED_TRACE(text);
    absl::StatusOr<std::string> hex = ParseSha256Fingerprint(text, "x");
    ASSERT_TRUE(hex.ok()) << hex.status();
    EXPECT_EQ(*hex, canonical);
  }
}

}  // namespace
}  // namespace edge
