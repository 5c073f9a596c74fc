// net/reliable_ring.h: the storage of one direction of the reliable-ordered channel. Slots are
// indexed by message id modulo the ring's capacity (reliable_span_factor x the window) but allocated
// in chunks of reliable_chunk_slots, only when an id of the chunk is claimed, and freed once the
// chunk holds no valid slot: memory follows the messages actually in flight, not the window, so a
// large window costs nothing until a bulk transfer uses it. No spare chunk is kept: one allocation
// per 64 messages is cheap at any rate, while a spare would cost 2.5 kB per ring on every lightly
// used connection. trim() gives the chunk table back when the ring is empty.
//
// Invariants: a chunk is allocated iff it holds at least one valid slot; used()
// is the number of valid slots; at most capacity / reliable_chunk_slots chunks exist, so a peer can
// make us allocate at most the ring's capacity, never more.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/limits.h"
#include "net/packet.h"
#include "sim/assert.h"

namespace strata::net {

struct ReliableSlot {
  bool valid = false;
  bool ever_sent = false;
  EntryTag tag = EntryTag::reliable_message;
  uint16_t id = 0;
  uint64_t last_sent_us = 0;
  std::vector<uint8_t> data;
};

class ReliableRing {
 public:
  explicit ReliableRing(size_t capacity) : capacity_(capacity) {
    // A power of two, so id % capacity stays continuous where the 16-bit ids wrap.
    STRATA_REQUIRE(capacity >= reliable_chunk_slots && (capacity & (capacity - 1)) == 0, capacity);
    STRATA_REQUIRE(capacity <= reliable_span_factor * reliable_window_max, capacity);
  }

  // The slot holding id, or nullptr when it holds none (its chunk, or the slot, is free).
  [[nodiscard]] ReliableSlot* find(uint16_t id) {
    if (chunks_.empty()) return nullptr;
    Chunk* chunk = chunks_[chunk_index(id)].get();
    if (chunk == nullptr) return nullptr;
    STRATA_ASSERT(chunk->used > 0 && chunk->used <= reliable_chunk_slots, chunk->used, id);  // else freed
    ReliableSlot& slot = chunk->slots[id % reliable_chunk_slots];
    return slot.valid && slot.id == id ? &slot : nullptr;
  }

  // Marks id's slot valid (allocating its chunk) and returns it; the slot must be free.
  ReliableSlot& claim(uint16_t id) {
    if (chunks_.empty()) chunks_.resize(capacity_ / reliable_chunk_slots);
    std::unique_ptr<Chunk>& chunk = chunks_[chunk_index(id)];
    if (!chunk) chunk = std::make_unique<Chunk>();
    ReliableSlot& slot = chunk->slots[id % reliable_chunk_slots];
    // The caller claims only ids of its window, whose slots are all distinct: a valid slot here is
    // another id of the window or a double claim.
    STRATA_REQUIRE(!slot.valid, id, slot.id, capacity_);
    STRATA_ASSERT(chunk->used < reliable_chunk_slots, chunk->used, id);
    STRATA_ASSERT(used_ < capacity_, used_, capacity_);
    slot.valid = true;
    slot.id = id;
    ++chunk->used;
    ++used_;
    return slot;
  }

  // Frees the valid slot (whose data the caller has already taken or released).
  void release(ReliableSlot& slot) {
    STRATA_REQUIRE(slot.valid, slot.id);
    STRATA_ASSERT(used_ > 0, slot.id);
    STRATA_ASSERT(!chunks_.empty(), slot.id);
    std::unique_ptr<Chunk>& chunk = chunks_[chunk_index(slot.id)];
    STRATA_ASSERT(chunk != nullptr && chunk->used > 0, slot.id, used_);
    STRATA_REQUIRE(&slot == &chunk->slots[slot.id % reliable_chunk_slots], slot.id);  // a slot of this ring
    slot.valid = false;
    --used_;
    if (--chunk->used == 0) chunk.reset();
  }

  // Gives back the chunk table when no slot is valid.
  void trim() {
    if (used_ != 0) return;
    std::vector<std::unique_ptr<Chunk>>().swap(chunks_);
  }

  [[nodiscard]] size_t used() const { return used_; }
  [[nodiscard]] size_t capacity() const { return capacity_; }
  [[nodiscard]] bool trimmed() const { return chunks_.empty(); }
  [[nodiscard]] size_t chunks_allocated() const {
    size_t n = 0;
    for (const auto& chunk : chunks_) n += chunk ? 1 : 0;
    return n;
  }

 private:
  struct Chunk {
    std::array<ReliableSlot, reliable_chunk_slots> slots;
    size_t used = 0;
  };

  [[nodiscard]] size_t chunk_index(uint16_t id) const { return (id % capacity_) / reliable_chunk_slots; }

  size_t capacity_;
  size_t used_ = 0;
  std::vector<std::unique_ptr<Chunk>> chunks_;  // capacity_ / reliable_chunk_slots once used
};

}  // namespace strata::net
