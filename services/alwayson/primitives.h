// Byte-level encoding of the AlwaysOn protocol (shared/specs/alwayson-protocol.md): big-endian
// integers, doubles, and strings with a 1-byte or marked 4-byte length.
//
//   Writer w;
//   w.U8(0x01); w.String("Pump1");
//   Reader r(w.data());
//   absl::StatusOr<std::string> name = (r.U8(), r.String("thing name"));
//
// Reader never reads past its input: every read returns an error naming the field and the
// byte offset instead.
#ifndef SERVICES_ALWAYSON_PRIMITIVES_H_
#define SERVICES_ALWAYSON_PRIMITIVES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edge::alwayson {

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v);
  void U32(uint32_t v);
  void U64(uint64_t v);
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void Double(double v);
  // Length < 128: one byte; else four bytes with the top bit set as a marker.
  void String(absl::string_view s);
  // A 4-byte length (no marker), then the bytes (BLOB, IMAGE).
  void Blob(absl::string_view b);
  void Raw(absl::string_view b) { out_.append(b.data(), b.size()); }

  const std::string& data() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  // `max_string` bounds any single string or blob length (the message size limit).
  explicit Reader(absl::string_view in, size_t max_string = 1 << 30)
      : in_(in), max_string_(max_string) {}

  absl::StatusOr<uint8_t> U8(absl::string_view field);
  absl::StatusOr<uint16_t> U16(absl::string_view field);
  absl::StatusOr<uint32_t> U32(absl::string_view field);
  absl::StatusOr<uint64_t> U64(absl::string_view field);
  absl::StatusOr<int32_t> I32(absl::string_view field);
  absl::StatusOr<double> Double(absl::string_view field);
  absl::StatusOr<std::string> String(absl::string_view field);
  absl::StatusOr<std::string> Blob(absl::string_view field);
  absl::StatusOr<std::string> Raw(size_t n, absl::string_view field);

  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool done() const { return pos_ == in_.size(); }
  absl::string_view rest() const { return in_.substr(pos_); }

 private:
  absl::Status Need(size_t n, absl::string_view field) const;

  absl::string_view in_;
  size_t pos_ = 0;
  size_t max_string_;
};

}  // namespace edge::alwayson

#endif  // SERVICES_ALWAYSON_PRIMITIVES_H_
