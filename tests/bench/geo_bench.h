// tests/bench/geo_bench.h: the alternative the seed names for "who is near": Redis GEO
// (GEOADD / GEOSEARCH), measured against the grid of cell sets that RedisStores uses.
// Mapping: tile (x, y) -> longitude x * degrees_per_tile, latitude y * degrees_per_tile, with
// degrees_per_tile = 1 / 111319.49 (one tile ~ one metre on the equator). GEO stores a 52-bit
// geohash (26 bits per axis: 360 / 2^26 = 5.4e-6 degrees, ~0.6 m) and measures haversine distance
// on a sphere, so a tile circle is answered with a margin (r * 1.001 + 2 m) and filtered exactly
// against the tile positions kept in a hash. Near the equator the sphere is flat to 1e-7 over a
// 4000-tile world; the margin covers the geohash cell. Bench-only: nothing here ships.
#pragma once

#include <hiredis/hiredis.h>

#include <algorithm>

#include <string>
#include <vector>

#include "storage/codec.h"
#include "storage/stores.h"

namespace strata::storage::bench {

inline constexpr double degrees_per_tile = 1.0 / 111319.49;

class GeoPositions {
 public:
  GeoPositions(const std::string& host, int port, std::string prefix)
      : context_(redisConnect(host.c_str(), port)), prefix_(std::move(prefix)) {}
  ~GeoPositions() {
    if (context_ != nullptr) redisFree(context_);
  }
  GeoPositions(const GeoPositions&) = delete;
  GeoPositions& operator=(const GeoPositions&) = delete;
  [[nodiscard]] bool ok() const { return context_ != nullptr && context_->err == 0; }

  // One GEOADD of every member and one HSET of their exact tiles, pipelined: one round trip.
  bool update(const PositionBatch& batch) {
    std::vector<std::string> geoadd = {"GEOADD", prefix_ + "geo"};
    std::vector<std::string> hset = {"HSET", prefix_ + "xy"};
    for (const Position& p : batch.moved) {
      geoadd.push_back(std::to_string(p.x * degrees_per_tile));
      geoadd.push_back(std::to_string(p.y * degrees_per_tile));
      geoadd.push_back(member(p.player));
      hset.push_back(member(p.player));
      hset.push_back(codec::encode_xy(p.x, p.y));
    }
    append(geoadd);
    append(hset);
    return read_replies(2, nullptr);
  }

  // GEOSEARCH with the margin, then HMGET of the candidates and the exact filter. Counts the
  // candidates the filter dropped.
  bool near(const NearQuery& query, std::vector<Position>& out, size_t& dropped) {
    out.clear();
    const double radius_m = query.r * 1.001 + 2.0;
    append({"GEOSEARCH", prefix_ + "geo", "FROMLONLAT", std::to_string(query.x * degrees_per_tile),
            std::to_string(query.y * degrees_per_tile), "BYRADIUS", std::to_string(radius_m), "m"});
    redisReply* members = nullptr;
    if (!read_replies(1, &members)) return false;
    std::vector<std::string> hmget = {"HMGET", prefix_ + "xy"};
    std::vector<PlayerKey> players;
    for (size_t i = 0; i < members->elements; ++i) {
      hmget.emplace_back(members->element[i]->str, members->element[i]->len);
      players.push_back(static_cast<PlayerKey>(*codec::read_u32_be(hmget.back())));
    }
    freeReplyObject(members);
    if (players.empty()) return true;
    append(hmget);
    redisReply* xys = nullptr;
    if (!read_replies(1, &xys)) return false;
    for (size_t i = 0; i < xys->elements; ++i) {
      const auto xy = codec::decode_xy(std::string_view(xys->element[i]->str, xys->element[i]->len));
      if (xy && within(query, xy->first, xy->second)) {
        out.push_back({players[i], xy->first, xy->second});
      } else {
        ++dropped;
      }
    }
    freeReplyObject(xys);
    std::sort(out.begin(), out.end(), [](const Position& a, const Position& b) { return a.player < b.player; });
    return true;
  }

  void clear() {
    append({"DEL", prefix_ + "geo", prefix_ + "xy"});
    (void)read_replies(1, nullptr);
  }

 private:
  static std::string member(PlayerKey player) {
    std::string out;
    codec::append_u32_be(out, static_cast<uint32_t>(player));
    return out;
  }
  void append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    (void)redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data());
  }
  // Reads `count` replies; keeps the last one in *last when asked (the caller frees it).
  bool read_replies(int count, redisReply** last) {
    bool ok = true;
    for (int i = 0; i < count; ++i) {
      void* raw = nullptr;
      if (redisGetReply(context_, &raw) != REDIS_OK) return false;
      auto* reply = static_cast<redisReply*>(raw);
      if (reply->type == REDIS_REPLY_ERROR) ok = false;
      if (last != nullptr && i == count - 1 && ok) {
        *last = reply;
      } else {
        freeReplyObject(reply);
      }
    }
    return ok;
  }

  redisContext* context_;
  std::string prefix_;
};

}  // namespace strata::storage::bench
