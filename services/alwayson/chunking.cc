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

// Every check below is one rule of the spec's "Multipart (chunking)" section, or a bound of
// ours on what a peer can make us hold; each runs before the slice is stored.

absl::StatusOr<Reassembler::ChunkFields> Reassembler::Parse(absl::string_view chunk) const {
  Reader r(chunk, limits_.max_message_size);
  ChunkFields c;
  auto header = DecodeHeader(r);
  if (!header.ok()) return header.status();
  if (!header->multipart) {
    return absl::InvalidArgumentError("not a chunk: the multipart flag is 0");
  }
  c.header = *header;
  auto number = r.U16("chunk number");
  if (!number.ok()) return number.status();
  auto count = r.U16("chunk count");
  if (!count.ok()) return count.status();
  auto size = r.U16("chunk size");
  if (!size.ok()) return size.status();
  c.number = *number;
  c.count = *count;
  c.size = *size;
  c.headers_size = kChunkOverhead;
  if (HasEntity(header->code)) {
    // Requests repeat the entity type and name in every chunk; the slice rule counts them as
    // "2 + name length".
    size_t at = r.offset();
    auto type = r.U8("entity type");
    if (!type.ok()) return type.status();
    auto name = r.String("entity name");
    if (!name.ok()) return name.status();
    c.entity = std::string(chunk.substr(at, r.offset() - at));
    c.headers_size += 2 + name->size();
  }
  c.slice = r.rest();
  return c;
}

absl::Status Reassembler::CheckDeclaredSizes(const ChunkFields& c) const {
  if (c.count == 0) {
    return absl::InvalidArgumentError("chunk count must be at least 1, got 0");
  }
  if (c.number == 0 || c.number > c.count) {  // Chunk numbers count from 1.
    return absl::InvalidArgumentError(absl::StrCat("chunk number must be 1 to ", c.count));
  }
  if (c.size > limits_.max_message_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "its chunk size (", c.size, ", the sender's ws_connection.message_chunk_size) is over "
        "ws_connection.max_msg_size (", limits_.max_message_size, ")"));
  }
  if (static_cast<size_t>(c.count) * c.size > limits_.max_message_size) {
    return absl::InvalidArgumentError(absl::StrCat(c.count, " chunks of ", c.size,
                                                   " bytes exceed max_msg_size (",
                                                   limits_.max_message_size, ")"));
  }
  return absl::OkStatus();
}

// Slice size per chunk = chunk size - 21 - (4 with deflate) - (requests: 2 + name length).
// Whether the sender deflated is not visible here, so the bound is the one without deflate.
// With count x chunk size within max_msg_size, this keeps the whole message within it too.
absl::Status Reassembler::CheckSlice(const ChunkFields& c) {
  if (c.size <= c.headers_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "its chunk size (", c.size, ", the sender's ws_connection.message_chunk_size) leaves "
        "no room for data after ", c.headers_size, " bytes of chunk headers"));
  }
  size_t room = c.size - c.headers_size;
  if (c.slice.size() > room) {
    return absl::InvalidArgumentError(absl::StrCat(
        "slice of ", c.slice.size(), " bytes is larger than the ", room,
        " bytes that its chunk size (", c.size,
        ", the sender's ws_connection.message_chunk_size) leaves after ", c.headers_size,
        " bytes of chunk headers"));
  }
  return absl::OkStatus();
}

absl::Status Reassembler::CheckSameMessage(const ChunkFields& c, const Partial& p) {
  if (p.count != c.count || p.size != c.size) {
    return absl::InvalidArgumentError(absl::StrCat("says ", c.count, " chunks of ", c.size,
                                                   " bytes, an earlier one said ", p.count,
                                                   " of ", p.size));
  }
  if (p.entity != c.entity || p.header.code != c.header.code ||
      p.header.session_id != c.header.session_id) {
    return absl::InvalidArgumentError(
        "does not belong to the same message as the earlier chunks");
  }
  if (p.slices.count(c.number) > 0) return absl::InvalidArgumentError("arrived twice");
  return absl::OkStatus();
}

// `p`: the chunk's partial message, null when this chunk starts one.
absl::Status Reassembler::CheckRoom(const ChunkFields& c, const Partial* p,
                                    size_t charge) const {
  if (p == nullptr && partial_.size() >= max_partial_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        max_partial_, " partial messages already in flight (max_partial_messages)"));
  }
  // Implied by CheckDeclaredSizes and CheckSlice; kept so that the whole message is bounded
  // even if those rules change.
  size_t whole = kHeaderSize + c.entity.size() + (p ? p->slice_bytes : 0) + c.slice.size();
  if (whole > limits_.max_message_size) {
    return absl::InvalidArgumentError(absl::StrCat("would make the message ", whole,
                                                   " bytes, over ws_connection.max_msg_size (",
                                                   limits_.max_message_size, ")"));
  }
  if (pending_bytes_ + charge > max_pending_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "holding its ", charge, " bytes would bring partial messages to ",
        pending_bytes_ + charge, " bytes, over the reassembler's bound of ", max_pending_bytes_,
        " bytes (max_pending_bytes)"));
  }
  return absl::OkStatus();
}

absl::Status Reassembler::Refuse(const ChunkFields& c, absl::Status why) {
  uint32_t id = c.header.request_id;
  if (auto it = partial_.find(id); it != partial_.end()) Erase(it);
  return absl::Status(why.code(),
                      absl::StrCat("chunk ", c.number, " of request ", id, ": ", why.message()));
}

void Reassembler::Erase(std::map<uint32_t, Partial>::iterator it) {
  pending_bytes_ -= it->second.charged;
  partial_.erase(it);  // Frees the node and every slice it holds.
}

// The whole message: for a request the entity once, then every slice in order. Each slice is
// freed as soon as it is copied, so assembling never holds a message twice.
std::string Reassembler::Assemble(Partial& p) {
  Writer w;
  Header whole = p.header;
  whole.multipart = false;
  (void)EncodeHeader(w, whole);  // Decoded from its first chunk, so it encodes.
  w.Raw(p.entity);
  std::string out = w.Take();
  out.reserve(out.size() + p.slice_bytes);  // Bytes received, not a peer-declared number.
  for (auto it = p.slices.begin(); it != p.slices.end(); it = p.slices.erase(it)) {
    out.append(it->second);
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> Reassembler::Add(absl::string_view chunk,
                                                            absl::Time now) {
  absl::StatusOr<ChunkFields> c = Parse(chunk);
  if (!c.ok()) return c.status();
  if (absl::Status s = CheckDeclaredSizes(*c); !s.ok()) return Refuse(*c, s);
  if (absl::Status s = CheckSlice(*c); !s.ok()) return Refuse(*c, s);
  auto it = partial_.find(c->header.request_id);
  Partial* p = it == partial_.end() ? nullptr : &it->second;
  if (p != nullptr) {
    if (absl::Status s = CheckSameMessage(*c, *p); !s.ok()) return Refuse(*c, s);
  }
  size_t charge = c->slice.size() + kStoredChunkOverhead + (p ? 0 : c->entity.size());
  if (absl::Status s = CheckRoom(*c, p, charge); !s.ok()) return Refuse(*c, s);

  if (p == nullptr) {
    Partial fresh;
    fresh.header = c->header;
    fresh.count = c->count;
    fresh.size = c->size;
    fresh.entity = std::move(c->entity);
    fresh.first_seen = now;
    it = partial_.emplace(c->header.request_id, std::move(fresh)).first;
    p = &it->second;
  }
  p->slices.emplace(c->number, std::string(c->slice));
  p->slice_bytes += c->slice.size();
  p->charged += charge;
  pending_bytes_ += charge;
  if (p->slices.size() < p->count) return std::optional<std::string>();

  std::string whole = Assemble(*p);
  Erase(it);
  return std::optional<std::string>(std::move(whole));
}

int Reassembler::ExpireOlderThan(absl::Time cutoff) {
  int dropped = 0;
  for (auto it = partial_.begin(); it != partial_.end();) {
    if (it->second.first_seen < cutoff) {
      Erase(it++);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

}  // namespace edge::alwayson
