// storage/limits.h: every named limit of the store ports, in one place, with their relations checked.
// Limits are security features: a record the sim hands over, or bytes read back from a store, can
// never make a port allocate or loop without bound. A write over a limit is refused with a reason
// (StoreStatus::refused) before it reaches a queue or a service; a stored value over a limit is
// reported as corrupt.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::storage {

// --- keys ----------------------------------------------------------------------------------------
// Persistent player ids are account ids: 1..2^24-1 (the sim's player ids are 24-bit).
inline constexpr uint32_t player_key_max = (1U << 24) - 1;
// Versions start at 1; 0 means "never written" in every store.
inline constexpr uint64_t version_min = 1;

// --- records -------------------------------------------------------------------------------------
// A player's state blob (position, inventory, health ... encoded by the node). 64 KiB is ~100x a
// full inventory; MariaDB stores it as a MEDIUMBLOB, Redis as one string.
inline constexpr size_t player_state_bytes_max = size_t{64} * 1024;
// One map chunk's bytes.
inline constexpr size_t chunk_bytes_max = size_t{64} * 1024;
// Changed chunks carried by one map save (one transaction in MariaDB).
inline constexpr size_t chunks_per_save_max = 4096;
// Session catalog strings: the region's name and where the session's log lives.
inline constexpr size_t region_bytes_max = 255;
inline constexpr size_t log_location_bytes_max = 4096;

// --- positions -----------------------------------------------------------------------------------
// Tile coordinates of a live position: |x|, |y| <= 2^22. Redis's GEO index maps a tile to a metre
// (storage/redis_stores.h), and 2^22 m stays within +-37.8 degrees of latitude, far from the poles
// where GEO refuses points; the sim's maps are at most 2048 cells a side (2^19 in its 1/256 fixed
// point). It also keeps (dx*dx + dy*dy) far inside 63 bits for the exact near test.
inline constexpr int32_t position_coord_abs_max = 1 << 22;
// Largest radius of a near query, in tiles. With cells of position_cell_tiles it bounds a query
// to (2 * 1024 / 64 + 2)^2 = 1156 cells.
inline constexpr uint32_t near_radius_max = 1024;
// Side of one cell of the position grid (RocksDB and Redis index positions by cell).
inline constexpr int32_t position_cell_tiles = 64;
// Players moved (or gone) in one position update.
inline constexpr size_t positions_per_update_max = 8192;
// Players answered by one near query (the query is refused, not truncated, above it).
inline constexpr size_t near_answer_max = 65536;
// dx, dy <= 2^31 each, so dx*dx + dy*dy <= 2^63: the sum fits uint64_t.
static_assert((uint64_t{2} * position_coord_abs_max) * (uint64_t{2} * position_coord_abs_max) <= UINT64_MAX / 2);
static_assert(near_radius_max / static_cast<uint32_t>(position_cell_tiles) <= 64);

// --- queues --------------------------------------------------------------------------------------
// Defaults of an AsyncPort (storage/async_port.h): writes waiting for the backend, reads waiting
// for an answer, answers waiting to be taken, and writes handed to the backend in one batch.
inline constexpr size_t port_writes_queued_default = 4096;
inline constexpr size_t port_reads_queued_default = 1024;
inline constexpr size_t port_answers_waiting_max = 4096;
inline constexpr size_t port_batch_default = 256;
static_assert(port_batch_default <= port_writes_queued_default);
static_assert(port_reads_queued_default <= port_answers_waiting_max);

// --- hot cache -----------------------------------------------------------------------------------
// Players a CachedPlayers remembers as stale in the cache (a put after their save failed, so the
// cache may hold an older save); beyond it every load skips the cache (storage/cached_players.h).
inline constexpr size_t cache_stale_players_max = 65536;
static_assert(cache_stale_players_max >= port_batch_default);

}  // namespace strata::storage
