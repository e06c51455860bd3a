#include "services/alwayson/primitives.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace edge::alwayson {

void Writer::U16(uint16_t v) {
  U8(static_cast<uint8_t>(v >> 8));
  U8(static_cast<uint8_t>(v));
}

void Writer::U32(uint32_t v) {
  U16(static_cast<uint16_t>(v >> 16));
  U16(static_cast<uint16_t>(v));
}

void Writer::U64(uint64_t v) {
  U32(static_cast<uint32_t>(v >> 32));
  U32(static_cast<uint32_t>(v));
}

void Writer::Double(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  U64(bits);
}

void Writer::String(absl::string_view s) {
  if (s.size() < 128) {
    U8(static_cast<uint8_t>(s.size()));
  } else {
    U32(static_cast<uint32_t>(s.size()) | 0x80000000u);
  }
  Raw(s);
}

void Writer::Blob(absl::string_view b) {
  U32(static_cast<uint32_t>(b.size()));
  Raw(b);
}

absl::Status Reader::Need(size_t n, absl::string_view field) const {
  if (n <= remaining()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " at offset ", pos_, ": needs ", n,
                                                 " bytes, only ", remaining(), " left"));
}

absl::StatusOr<uint8_t> Reader::U8(absl::string_view field) {
  if (auto s = Need(1, field); !s.ok()) return s;
  return static_cast<uint8_t>(in_[pos_++]);
}

absl::StatusOr<uint16_t> Reader::U16(absl::string_view field) {
  if (auto s = Need(2, field); !s.ok()) return s;
  uint16_t v = static_cast<uint16_t>((static_cast<uint8_t>(in_[pos_]) << 8) |
                                     static_cast<uint8_t>(in_[pos_ + 1]));
  pos_ += 2;
  return v;
}

absl::StatusOr<uint32_t> Reader::U32(absl::string_view field) {
  if (auto s = Need(4, field); !s.ok()) return s;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in_[pos_ + i]);
  pos_ += 4;
  return v;
}

absl::StatusOr<uint64_t> Reader::U64(absl::string_view field) {
  if (auto s = Need(8, field); !s.ok()) return s;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in_[pos_ + i]);
  pos_ += 8;
  return v;
}

absl::StatusOr<int32_t> Reader::I32(absl::string_view field) {
  auto v = U32(field);
  if (!v.ok()) return v.status();
  return static_cast<int32_t>(*v);
}

absl::StatusOr<double> Reader::Double(absl::string_view field) {
  auto bits = U64(field);
  if (!bits.ok()) return bits.status();
  double v;
  std::memcpy(&v, &*bits, sizeof(v));
  return v;
}

absl::StatusOr<std::string> Reader::String(absl::string_view field) {
  size_t at = pos_;
  auto first = U8(field);
  if (!first.ok()) return first.status();
  size_t len = *first;
  if (len & 0x80) {
    pos_ = at;
    auto marked = U32(field);
    if (!marked.ok()) return marked.status();
    len = *marked & 0x7fffffffu;
  }
  if (len > max_string_) {
    return absl::InvalidArgumentError(absl::StrCat(field, " at offset ", at, ": length ", len,
                                                   " is over the limit of ", max_string_));
  }
  return Raw(len, field);
}

absl::StatusOr<std::string> Reader::Blob(absl::string_view field) {
  size_t at = pos_;
  auto len = U32(field);
  if (!len.ok()) return len.status();
  if (*len > max_string_) {
    return absl::InvalidArgumentError(absl::StrCat(field, " at offset ", at, ": length ", *len,
                                                   " is over the limit of ", max_string_));
  }
  return Raw(*len, field);
}

absl::StatusOr<std::string> Reader::Raw(size_t n, absl::string_view field) {
  if (auto s = Need(n, field); !s.ok()) return s;
  std::string out(in_.substr(pos_, n));
  pos_ += n;
  return out;
}

}  // namespace edge::alwayson
