#include "services/trust/sealed_secret.h"

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace edge::trust {
namespace {

MasterKey Key(char fill) { return *MasterKey::FromBytes(std::string(32, fill)); }

TEST(SealedSecretTest, RoundTripsAnyPlaintext) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  for (const std::string& plain : {std::string(), std::string("my app key"), binary,
                                   std::string(64 * 1024, 'x')}) {
    SCOPED_TRACE(plain.size());
    std::string sealed = Seal(Key('k'), plain);
    EXPECT_TRUE(IsSealed(sealed));
    auto back = Unseal(Key('k'), sealed, "appKey");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, plain);
  }
}

TEST(SealedSecretTest, SealsTheSamePlaintextDifferentlyEachTime) {
  EXPECT_NE(Seal(Key('k'), "same"), Seal(Key('k'), "same"));
}

struct BadValue {
  const char* name;
  std::string value;
  std::string expected;
};

TEST(SealedSecretTest, ExplainsWhyAValueDoesNotUnsealWithoutEchoingIt) {
  const std::string plain = "super-secret-app-key";
  std::string good = Seal(Key('k'), plain);
  std::string envelope;
  ASSERT_TRUE(absl::Base64Unescape(good.substr(4), &envelope));
  auto flipped = [&](size_t at) {
    std::string e = envelope;
    e[at] ^= 0x01;
    return absl::StrCat("AES:", absl::Base64Escape(e));
  };
  std::string legacy_bytes(32, '\x7f');  // EMS: AES-CBC blocks, no version byte.
  const std::vector<BadValue> cases = {
      {"plaintext", plain,
       "appKey: the sealed value does not start with \"AES:\"; it is plaintext, not a sealed "
       "value"},
      {"not base64", "AES:***not-base64***",
       "appKey: the sealed value is corrupted (the part after \"AES:\" is not base64); seal the "
       "plaintext again with `trustctl encrypt -`"},
      {"legacy EMS", absl::StrCat("AES:", absl::Base64Escape(legacy_bytes)),
       "appKey: the sealed value is not one of ours: it is a legacy EMS value, sealed by "
       "`wsems -encrypt` with EMS's built-in key, which is not public, so nothing can decrypt "
       "it here; seal the plaintext again with `trustctl encrypt -` and paste the AES:... value "
       "in its place"},
      {"truncated", absl::StrCat("AES:", absl::Base64Escape(envelope.substr(0, 20))),
       "appKey: the sealed value is corrupted (shorter than any value `trustctl encrypt` makes); "
       "seal the plaintext again with `trustctl encrypt -`"},
      {"flipped nonce", flipped(3),
       "appKey: the sealed value does not decrypt: it was sealed under a different master key, "
       "or it is corrupted, or it is a legacy EMS value; seal the plaintext again with "
       "`trustctl encrypt -`"},
      {"flipped ciphertext", flipped(14),
       "appKey: the sealed value does not decrypt: it was sealed under a different master key, "
       "or it is corrupted, or it is a legacy EMS value; seal the plaintext again with "
       "`trustctl encrypt -`"},
      {"flipped tag", flipped(envelope.size() - 1),
       "appKey: the sealed value does not decrypt: it was sealed under a different master key, "
       "or it is corrupted, or it is a legacy EMS value; seal the plaintext again with "
       "`trustctl encrypt -`"},
  };
  for (const BadValue& c : cases) {
    SCOPED_TRACE(c.name);
    auto result = Unseal(Key('k'), c.value, "appKey");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(result.status().message(), c.expected);
    EXPECT_EQ(result.status().message().find(plain), std::string::npos);
    EXPECT_EQ(result.status().message().find(c.value.substr(4, 12)), std::string::npos);
  }
  auto wrong_key = Unseal(Key('w'), good, "http_server.password");
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.status().message(),
            "http_server.password: the sealed value does not decrypt: it was sealed under a "
            "different master key, or it is corrupted, or it is a legacy EMS value; seal the "
            "plaintext again with `trustctl encrypt -`");
}

TEST(SealedSecretTest, RevealPassesPlaintextAndNeedsAKeyForSealedValues) {
  EXPECT_EQ(*Reveal(nullptr, "plain", "appKey"), "plain");
  MasterKey key = Key('k');
  EXPECT_EQ(*Reveal(&key, Seal(key, "x"), "appKey"), "x");
  auto no_key = Reveal(nullptr, Seal(key, "x"), "appKey");
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(no_key.status().message(), "appKey: the value is sealed but no master key is "
                                       "available (trustd.master_key_file)");
}

class MasterKeyTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) { return ::testing::TempDir() + "/" + name; }
};

TEST_F(MasterKeyTest, CreatesAKeyFileWithMode0600AndReadsItBack) {
  std::string path = Path("created.key");
  ::unlink(path.c_str());
  auto created = MasterKey::LoadOrCreate(path);
  ASSERT_TRUE(created.ok()) << created.status();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto loaded = MasterKey::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*Unseal(*loaded, Seal(*created, "x"), "f"), "x");
}

TEST_F(MasterKeyTest, RefusesKeyFilesThatAreOpenToOthersOrTheWrongSize) {
  std::string open_path = Path("open.key");
  std::ofstream(open_path) << std::string(32, 'k');
  ::chmod(open_path.c_str(), 0644);
  auto open = MasterKey::Load(open_path);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(open.status().message(),
            absl::StrCat("master key ", open_path, ": readable or writable by group or others "
                         "(mode 0644); chmod 600 ", open_path));

  std::string short_path = Path("short.key");
  std::ofstream(short_path) << "short";
  ::chmod(short_path.c_str(), 0600);
  auto shorter = MasterKey::Load(short_path);
  ASSERT_FALSE(shorter.ok());
  EXPECT_EQ(shorter.status().message(),
            absl::StrCat("master key ", short_path, ": expected 32 bytes, found 5"));

  auto missing = MasterKey::Load(Path("missing.key"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace edge::trust
