#include "services/alwayson/chunking.h"

#include "absl/strings/str_cat.h"

namespace edge::alwayson {
namespace {

bool HasEntity(Code code) {
  return code == Code::kGet || code == Code::kPut || code == Code::kPost ||
         code == Code::kDelete;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitIntoChunks(absl::string_view encoded,
                                                         size_t chunk_size, bool deflate) {
  Reader r(encoded);
  auto header = DecodeHeader(r);
  if (!header.ok()) return header.status();
  absl::string_view body = encoded.substr(kHeaderSize);
  if (body.size() + kChunkOverhead <= chunk_size) return std::vector<std::string>{std::string(encoded)};

  // For requests, the entity type and name lead the body; every chunk carries them.
  std::string entity_prefix;
  if (HasEntity(header->code)) {
    Reader br(body);
    auto type = br.U8("entity type");
    if (!type.ok()) return type.status();
    auto name = br.String("entity name");
    if (!name.ok()) return name.status();
    entity_prefix = std::string(body.substr(0, br.offset()));
    body = body.substr(br.offset());
  }
  size_t fixed = kChunkOverhead + (deflate ? 4 : 0) + entity_prefix.size();
  if (chunk_size <= fixed) {
    return absl::InvalidArgumentError(absl::StrCat("message_chunk_size ", chunk_size,
                                                   " leaves no room for data after ", fixed,
                                                   " bytes of chunk headers"));
  }
  size_t slice = chunk_size - fixed;
  size_t count = (body.size() + slice - 1) / slice;
  if (count > 0xFFFF) {
    return absl::InvalidArgumentError(absl::StrCat("message needs ", count,
                                                   " chunks; at most 65535 are possible"));
  }
  Header chunk_header = *header;
  chunk_header.multipart = true;
  std::vector<std::string> chunks;
  for (size_t i = 0; i < count; ++i) {
    Writer w;
    EncodeHeader(w, chunk_header);
    w.U16(static_cast<uint16_t>(i + 1));
    w.U16(static_cast<uint16_t>(count));
    w.U16(static_cast<uint16_t>(chunk_size));
    w.Raw(entity_prefix);
    w.Raw(body.substr(i * slice, slice));
    chunks.push_back(w.Take());
  }
  return chunks;
}

absl::StatusOr<std::optional<std::string>> Reassembler::Add(absl::string_view chunk,
                                                            absl::Time now) {
  Reader r(chunk, limits_.max_message_size);
  auto header = DecodeHeader(r);
  if (!header.ok()) return header.status();
  if (!header->multipart) {
    return absl::InvalidArgumentError("not a chunk: the multipart flag is 0");
  }
  auto number = r.U16("chunk number");
  if (!number.ok()) return number.status();
  auto count = r.U16("chunk count");
  if (!count.ok()) return count.status();
  auto size = r.U16("chunk size");
  if (!size.ok()) return size.status();
  uint32_t id = header->request_id;
  auto refuse = [&](std::string why) -> absl::Status {
    partial_.erase(id);
    return absl::InvalidArgumentError(absl::StrCat("chunk ", *number, " of request ", id, ": ", why));
  };
  if (*number == 0 || *number > *count) {
    return refuse(absl::StrCat("chunk number must be 1 to ", *count));
  }
  if (static_cast<size_t>(*count) * *size > limits_.max_message_size) {
    return refuse(absl::StrCat(*count, " chunks of ", *size, " bytes exceed max_msg_size (",
                               limits_.max_message_size, ")"));
  }
  std::optional<std::pair<uint8_t, std::string>> entity;
  if (HasEntity(header->code)) {
    auto type = r.U8("entity type");
    if (!type.ok()) return type.status();
    auto name = r.String("entity name");
    if (!name.ok()) return name.status();
    entity = std::make_pair(*type, *std::move(name));
  }
  auto it = partial_.find(id);
  if (it == partial_.end()) {
    if (partial_.size() >= max_partial_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "chunk of request ", id, ": ", max_partial_, " partial messages already in flight"));
    }
    Partial p;
    p.header = *header;
    p.count = *count;
    p.size = *size;
    p.entity = entity;
    p.first_seen = now;
    it = partial_.emplace(id, std::move(p)).first;
  } else {
    const Partial& p = it->second;
    if (p.count != *count || p.size != *size) {
      return refuse(absl::StrCat("says ", *count, " chunks of ", *size, " bytes, an earlier one said ",
                                 p.count, " of ", p.size));
    }
    if (p.entity != entity || p.header.code != header->code ||
        p.header.session_id != header->session_id) {
      return refuse("does not belong to the same message as the earlier chunks");
    }
    if (p.slices.count(*number) > 0) return refuse("arrived twice");
  }
  it->second.slices[*number] = std::string(r.rest());
  if (it->second.slices.size() < it->second.count) return std::optional<std::string>();

  Partial done = std::move(it->second);
  partial_.erase(it);
  Writer w;
  Header whole = done.header;
  whole.multipart = false;
  EncodeHeader(w, whole);
  if (done.entity) {
    w.U8(done.entity->first);
    w.String(done.entity->second);
  }
  for (const auto& [n, slice] : done.slices) w.Raw(slice);
  if (w.data().size() > limits_.max_message_size) {
    return absl::InvalidArgumentError(absl::StrCat("reassembled request ", id, " of ",
                                                   w.data().size(), " bytes is over max_msg_size"));
  }
  return std::optional<std::string>(w.Take());
}

int Reassembler::ExpireOlderThan(absl::Time cutoff) {
  int dropped = 0;
  for (auto it = partial_.begin(); it != partial_.end();) {
    if (it->second.first_seen < cutoff) {
      it = partial_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

}  // namespace edge::alwayson
