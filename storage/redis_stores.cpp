// storage/redis_stores.cpp: RedisStores (key layout, round trips and reconnects in redis_stores.h).
#include "storage/redis_stores.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>

#include "storage/codec.h"
#include "storage/limits.h"

namespace strata::storage {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// One command as argv: every argument binary-safe with its length, never formatted into a string.
struct Command {
  std::vector<std::string> args;
  Command& arg(std::string_view value) {
    args.emplace_back(value);
    return *this;
  }
};

std::string player_field(PlayerKey player) {
  std::string field;
  codec::append_u32_be(field, static_cast<uint32_t>(player));
  return field;
}

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

using Xy = std::pair<int32_t, int32_t>;

// Tile -> degrees: one tile is one metre along a meridian of the sphere Redis measures on
// (radius 6372797.560856 m: 111226.3 m per degree).
constexpr double degrees_per_tile = 1.0 / 111226.29;
// GEOSEARCH radius for a tile radius r: r * factor + margin metres. On the sphere a tile step east is
// cos(latitude) metres and a step north one metre, so sphere distances are at most tile distances
// (up to float error, covered by the factor); the margin covers the 52-bit geohash cell (26 bits
// per axis: <= 0.6 m) of the stored point. The candidates are a superset; the filter makes it exact.
constexpr double geo_radius_factor = 1.001;
constexpr double geo_margin_m = 2.0;

}  // namespace

struct RedisStores::Impl {
  RedisOptions options;
  redisContext* context = nullptr;
  bool lost_before = false;
  RedisCounters counters;

  ~Impl() { drop(false); }

  void drop(bool lost) {
    if (context != nullptr) redisFree(context);
    context = nullptr;
    if (lost) {
      ++counters.connections_lost;
      lost_before = true;
    }
  }

  Outcome connect() {
    if (context != nullptr) return Outcome::success();
    context = redisConnectWithTimeout(options.host.c_str(), options.port, to_timeval(options.timeout));
    if (context == nullptr || context->err != 0) {
      std::string reason = context != nullptr ? context->errstr : "out of memory";
      drop(false);
      ++counters.connect_failures;
      return Outcome::failure(StoreStatus::unavailable,
                              "redis connect " + options.host + ":" + std::to_string(options.port) + ": " + reason);
    }
    (void)redisSetTimeout(context, to_timeval(options.timeout));
    ++counters.connects;
    if (lost_before) ++counters.reconnects;
    return Outcome::success();
  }

  // The I/O failure of the context as an Outcome (and the context dropped).
  Outcome io_failure() {
    const bool timed_out = context->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    std::string reason = std::string("redis: ") + (timed_out ? "timeout" : context->errstr);
    if (timed_out) ++counters.timeouts;
    drop(true);
    return Outcome::failure(timed_out ? StoreStatus::stalled : StoreStatus::lost_connection, std::move(reason));
  }

  // Sends `commands` in one pipeline and reads every reply. An error reply fails the call (after
  // every reply was read, so the connection stays in step).
  Outcome run(const std::vector<Command>& commands, std::vector<Reply>& replies) {
    replies.clear();
    if (Outcome connected = connect(); !connected.ok()) return connected;
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const Command& command : commands) {
      argv.clear();
      lengths.clear();
      for (const std::string& arg : command.args) {
        argv.push_back(arg.data());
        lengths.push_back(arg.size());
      }
      if (redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()) != REDIS_OK) {
        return io_failure();
      }
    }
    ++counters.round_trips;
    counters.commands += commands.size();
    std::string error;
    for (size_t i = 0; i < commands.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(context, &raw) != REDIS_OK) return io_failure();
      Reply reply(static_cast<redisReply*>(raw));
      if (reply->type == REDIS_REPLY_ERROR && error.empty()) error.assign(reply->str, reply->len);
      replies.push_back(std::move(reply));
    }
    if (!error.empty()) {
      ++counters.error_replies;
      return Outcome::failure(StoreStatus::unavailable, "redis: " + error);
    }
    return Outcome::success();
  }

  Outcome run_one(Command command, Reply& reply) {
    std::vector<Reply> replies;
    std::vector<Command> commands{std::move(command)};
    Outcome outcome = run(commands, replies);
    if (outcome.ok()) reply = std::move(replies.front());
    return outcome;
  }

  std::string key(std::string_view suffix) const {
    std::string out = options.prefix;
    out.append(suffix);
    return out;
  }
  std::string cell_key(int32_t x, int32_t y) const {
    std::string out = key("cell:");
    codec::append_i32_sortable(out, cell_of(x));
    codec::append_i32_sortable(out, cell_of(y));
    return out;
  }
  std::string cell_key_of_cell(int32_t cell_x, int32_t cell_y) const {
    std::string out = key("cell:");
    codec::append_i32_sortable(out, cell_x);
    codec::append_i32_sortable(out, cell_y);
    return out;
  }
  std::string player_key(PlayerKey player) const {
    std::string out = key("player:");
    codec::append_u32_be(out, static_cast<uint32_t>(player));
    return out;
  }

  // A stored position, or nullopt for nil; a damaged value counts and reads as absent (the update
  // that follows overwrites it).
  std::optional<Xy> decode_position(const redisReply* reply) {
    if (reply->type != REDIS_REPLY_STRING) return std::nullopt;
    auto xy = codec::decode_xy(std::string_view(reply->str, reply->len));
    if (!xy) ++counters.corrupt_values;
    return xy;
  }

  // The candidates an index answered (an array of player ids), kept when their exact tile (from the
  // hash: the index only finds candidates) is within the query's circle; sorted by player.
  Result<std::vector<Position>> filter_members(const redisReply* members, const NearQuery& query) {
    if (members->type != REDIS_REPLY_ARRAY || members->elements > near_answer_max) {
      return {Outcome::failure(StoreStatus::corrupt, "redis: the index answered no array within the limit"), {}};
    }
    Result<std::vector<Position>> result;
    std::vector<PlayerKey> players;
    for (size_t i = 0; i < members->elements; ++i) {
      const redisReply* member = members->element[i];
      const auto raw = member->type == REDIS_REPLY_STRING && member->len == 4
                           ? codec::read_u32_be(std::string_view(member->str, member->len))
                           : std::nullopt;
      if (!raw) {
        ++counters.corrupt_values;
        continue;
      }
      players.push_back(static_cast<PlayerKey>(*raw));
    }
    if (players.empty()) return result;
    std::vector<std::optional<Xy>> xys;
    if (Outcome outcome = old_positions(players, xys); !outcome.ok()) return {outcome, {}};
    for (size_t i = 0; i < players.size(); ++i) {
      // A member whose tile is gone or elsewhere is a leftover of an interrupted update.
      if (xys[i] && within(query, xys[i]->first, xys[i]->second)) {
        result.value.push_back({players[i], xys[i]->first, xys[i]->second});
      }
    }
    std::sort(result.value.begin(), result.value.end(),
              [](const Position& a, const Position& b) { return a.player < b.player; });
    return result;
  }

  // Old positions of `players` in one HMGET.
  Outcome old_positions(const std::vector<PlayerKey>& players, std::vector<std::optional<Xy>>& out) {
    Command hmget;
    hmget.arg("HMGET").arg(key("pos"));
    for (PlayerKey player : players) hmget.arg(player_field(player));
    Reply reply;
    if (Outcome outcome = run_one(std::move(hmget), reply); !outcome.ok()) return outcome;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != players.size()) {
      return Outcome::failure(StoreStatus::corrupt, "redis: HMGET answered no array of the asked size");
    }
    out.clear();
    for (size_t i = 0; i < reply->elements; ++i) out.push_back(decode_position(reply->element[i]));
    return Outcome::success();
  }
};

namespace {

// The state each touched player ends in after the batches (moved before gone within a batch).
std::map<PlayerKey, std::optional<Xy>> final_positions(std::span<const PositionBatch> batches) {
  std::map<PlayerKey, std::optional<Xy>> out;
  for (const PositionBatch& batch : batches) {
    for (const Position& position : batch.moved) out[position.player] = Xy{position.x, position.y};
    for (PlayerKey player : batch.gone) out[player] = std::nullopt;
  }
  return out;
}

Outcome validate_batches(std::span<const PositionBatch> batches) {
  for (const PositionBatch& batch : batches) {
    if (Outcome valid = validate(batch); !valid.ok()) return valid;
  }
  return Outcome::success();
}

bool same_cell(const Xy& a, const Xy& b) {
  return cell_of(a.first) == cell_of(b.first) && cell_of(a.second) == cell_of(b.second);
}

// --- the GEO index (see redis_stores.h for the mapping and its error) -------------------------------

std::string degrees(int32_t tile) {
  char text[32];
  const int size = std::snprintf(text, sizeof(text), "%.10f", tile * degrees_per_tile);
  return std::string(text, static_cast<size_t>(size));
}

// One round trip: MULTI, GEOADD of the moved, HSET of their exact tiles, ZREM and HDEL of the gone,
// EXEC. `one_by_one` sends each player's commands as their own round trips (the benchmark's baseline).
Outcome geo_update(RedisStores::Impl& impl, const std::map<PlayerKey, std::optional<Xy>>& finals, bool one_by_one) {
  Command geoadd = Command{}.arg("GEOADD").arg(impl.key("geo"));
  Command hset = Command{}.arg("HSET").arg(impl.key("pos"));
  Command zrem = Command{}.arg("ZREM").arg(impl.key("geo"));
  Command hdel = Command{}.arg("HDEL").arg(impl.key("pos"));
  Reply reply;
  for (const auto& [player, xy] : finals) {
    const std::string field = player_field(player);
    if (one_by_one) {
      std::vector<Command> steps;
      if (xy) {
        steps.push_back(
            Command{}.arg("GEOADD").arg(impl.key("geo")).arg(degrees(xy->first)).arg(degrees(xy->second)).arg(field));
        steps.push_back(
            Command{}.arg("HSET").arg(impl.key("pos")).arg(field).arg(codec::encode_xy(xy->first, xy->second)));
      } else {
        steps.push_back(Command{}.arg("ZREM").arg(impl.key("geo")).arg(field));
        steps.push_back(Command{}.arg("HDEL").arg(impl.key("pos")).arg(field));
      }
      for (Command& step : steps) {
        if (Outcome outcome = impl.run_one(std::move(step), reply); !outcome.ok()) return outcome;
      }
      continue;
    }
    if (xy) {
      geoadd.arg(degrees(xy->first)).arg(degrees(xy->second)).arg(field);
      hset.arg(field).arg(codec::encode_xy(xy->first, xy->second));
    } else {
      zrem.arg(field);
      hdel.arg(field);
    }
  }
  if (one_by_one) return Outcome::success();
  std::vector<Command> pipeline;
  pipeline.push_back(Command{}.arg("MULTI"));
  if (hset.args.size() > 2) {
    pipeline.push_back(std::move(geoadd));
    pipeline.push_back(std::move(hset));
  }
  if (hdel.args.size() > 2) {
    pipeline.push_back(std::move(zrem));
    pipeline.push_back(std::move(hdel));
  }
  pipeline.push_back(Command{}.arg("EXEC"));
  std::vector<Reply> replies;
  if (Outcome outcome = impl.run(pipeline, replies); !outcome.ok()) return outcome;
  if (replies.back()->type != REDIS_REPLY_ARRAY) {
    return Outcome::failure(StoreStatus::unavailable, "redis: position update transaction aborted");
  }
  return Outcome::success();
}

// GEOSEARCH with the margin, then the candidates' exact tiles (HMGET) and the exact filter.
Result<std::vector<Position>> geo_near(RedisStores::Impl& impl, const NearQuery& query) {
  char radius[32];
  const int radius_size = std::snprintf(radius, sizeof(radius), "%.3f", query.r * geo_radius_factor + geo_margin_m);
  Command search = Command{}
                       .arg("GEOSEARCH")
                       .arg(impl.key("geo"))
                       .arg("FROMLONLAT")
                       .arg(degrees(query.x))
                       .arg(degrees(query.y))
                       .arg("BYRADIUS")
                       .arg(std::string_view(radius, static_cast<size_t>(radius_size)))
                       .arg("m");
  Reply members;
  if (Outcome outcome = impl.run_one(std::move(search), members); !outcome.ok()) return {outcome, {}};
  return impl.filter_members(members.get(), query);
}

}  // namespace

RedisStores::RedisStores(RedisOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}
RedisStores::~RedisStores() = default;

const RedisCounters& RedisStores::counters() const { return impl_->counters; }

Outcome RedisStores::update(std::span<const PositionBatch> batches) {
  if (Outcome valid = validate_batches(batches); !valid.ok()) return valid;
  const auto finals = final_positions(batches);
  if (finals.empty()) return Outcome::success();
  if (impl_->options.index == PositionIndex::geo) return geo_update(*impl_, finals, false);
  std::vector<PlayerKey> players;
  for (const auto& [player, xy] : finals) players.push_back(player);
  std::vector<std::optional<Xy>> old;
  if (Outcome outcome = impl_->old_positions(players, old); !outcome.ok()) return outcome;
  std::vector<Command> pipeline;
  pipeline.push_back(Command{}.arg("MULTI"));
  Command hset;
  hset.arg("HSET").arg(impl_->key("pos"));
  Command hdel;
  hdel.arg("HDEL").arg(impl_->key("pos"));
  size_t i = 0;
  for (const auto& [player, xy] : finals) {
    const std::optional<Xy>& before = old[i++];
    const std::string field = player_field(player);
    if (before && (!xy || !same_cell(*before, *xy))) {
      pipeline.push_back(Command{}.arg("SREM").arg(impl_->cell_key(before->first, before->second)).arg(field));
    }
    if (xy) {
      pipeline.push_back(Command{}.arg("SADD").arg(impl_->cell_key(xy->first, xy->second)).arg(field));
      hset.arg(field).arg(codec::encode_xy(xy->first, xy->second));
    } else {
      hdel.arg(field);
    }
  }
  if (hset.args.size() > 2) pipeline.push_back(std::move(hset));
  if (hdel.args.size() > 2) pipeline.push_back(std::move(hdel));
  pipeline.push_back(Command{}.arg("EXEC"));
  std::vector<Reply> replies;
  if (Outcome outcome = impl_->run(pipeline, replies); !outcome.ok()) return outcome;
  if (replies.back()->type != REDIS_REPLY_ARRAY) {
    return Outcome::failure(StoreStatus::unavailable, "redis: position update transaction aborted");
  }
  return Outcome::success();
}

Outcome RedisStores::update_one_by_one(std::span<const PositionBatch> batches) {
  if (Outcome valid = validate_batches(batches); !valid.ok()) return valid;
  if (impl_->options.index == PositionIndex::geo) return geo_update(*impl_, final_positions(batches), true);
  for (const auto& [player, xy] : final_positions(batches)) {
    const std::string field = player_field(player);
    Reply reply;
    if (Outcome outcome = impl_->run_one(Command{}.arg("HGET").arg(impl_->key("pos")).arg(field), reply);
        !outcome.ok()) {
      return outcome;
    }
    const std::optional<Xy> before = impl_->decode_position(reply.get());
    if (before && (!xy || !same_cell(*before, *xy))) {
      Command srem = Command{}.arg("SREM").arg(impl_->cell_key(before->first, before->second)).arg(field);
      if (Outcome outcome = impl_->run_one(std::move(srem), reply); !outcome.ok()) return outcome;
    }
    if (xy) {
      Command sadd = Command{}.arg("SADD").arg(impl_->cell_key(xy->first, xy->second)).arg(field);
      if (Outcome outcome = impl_->run_one(std::move(sadd), reply); !outcome.ok()) return outcome;
      Command hset =
          Command{}.arg("HSET").arg(impl_->key("pos")).arg(field).arg(codec::encode_xy(xy->first, xy->second));
      if (Outcome outcome = impl_->run_one(std::move(hset), reply); !outcome.ok()) return outcome;
    } else {
      Command hdel = Command{}.arg("HDEL").arg(impl_->key("pos")).arg(field);
      if (Outcome outcome = impl_->run_one(std::move(hdel), reply); !outcome.ok()) return outcome;
    }
  }
  return Outcome::success();
}

Result<std::vector<Position>> RedisStores::near(const NearQuery& query) {
  if (Outcome valid = validate(query); !valid.ok()) return {valid, {}};
  if (impl_->options.index == PositionIndex::geo) return geo_near(*impl_, query);
  const int64_t r = query.r;
  Command sunion;
  sunion.arg("SUNION");
  for (int32_t cell_x = cell_of(static_cast<int32_t>(query.x - r));
       cell_x <= cell_of(static_cast<int32_t>(query.x + r)); ++cell_x) {
    for (int32_t cell_y = cell_of(static_cast<int32_t>(query.y - r));
         cell_y <= cell_of(static_cast<int32_t>(query.y + r)); ++cell_y) {
      sunion.arg(impl_->cell_key_of_cell(cell_x, cell_y));
    }
  }
  Reply members;
  if (Outcome outcome = impl_->run_one(std::move(sunion), members); !outcome.ok()) return {outcome, {}};
  return impl_->filter_members(members.get(), query);
}

Result<std::optional<PlayerRecord>> RedisStores::get(PlayerKey player) {
  if (Outcome valid = validate(player); !valid.ok()) return {valid, {}};
  Reply reply;
  if (Outcome outcome = impl_->run_one(Command{}.arg("GET").arg(impl_->player_key(player)), reply); !outcome.ok()) {
    return {outcome, {}};
  }
  if (reply->type == REDIS_REPLY_NIL) return {};
  const auto decoded = reply->type == REDIS_REPLY_STRING
                           ? codec::decode_versioned(std::string_view(reply->str, reply->len), player_state_bytes_max)
                           : std::nullopt;
  if (!decoded) {
    ++impl_->counters.corrupt_values;
    return {Outcome::failure(StoreStatus::corrupt, "redis: damaged cached player state"), {}};
  }
  return {Outcome::success(), PlayerRecord{player, decoded->version, decoded->bytes}};
}

// Keeps the newer version per key (the first 8 bytes of a value are its version, little-endian).
// The versions are compared byte by byte from the most significant one, never as Lua numbers: those
// are doubles, and the server's versions ((session start in Unix s << 32) | tick, ~2^62) differ in
// bits a double drops, so every save of a session compared equal and the cache kept the first one.
// KEYS: the players' keys; ARGV: their values, then the TTL in milliseconds. Data only ever travels
// in KEYS/ARGV, never in the script's text.
constexpr std::string_view put_newer_script = R"lua(
local ttl = ARGV[#KEYS + 1]
for i = 1, #KEYS do
  local new = ARGV[i]
  local old = redis.call('GET', KEYS[i])
  local keep = false
  if old and #old >= 8 then
    keep = true
    for b = 8, 1, -1 do
      local o, n = string.byte(old, b), string.byte(new, b)
      if o ~= n then
        keep = o > n
        break
      end
    end
  end
  if not keep then redis.call('SET', KEYS[i], new, 'PX', ttl) end
end
return #KEYS
)lua";

Outcome RedisStores::put(std::span<const PlayerRecord> records) {
  for (const PlayerRecord& record : records) {
    if (Outcome valid = validate(record); !valid.ok()) return valid;
  }
  if (records.empty()) return Outcome::success();
  Command eval;
  eval.arg("EVAL").arg(put_newer_script).arg(std::to_string(records.size()));
  for (const PlayerRecord& record : records) eval.arg(impl_->player_key(record.player));
  for (const PlayerRecord& record : records) eval.arg(codec::encode_versioned(record.version, record.state));
  eval.arg(std::to_string(impl_->options.cache_ttl.count()));
  Reply reply;
  return impl_->run_one(std::move(eval), reply);
}

Outcome RedisStores::clear() {
  std::string pattern;
  for (char c : impl_->options.prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern.push_back('\\');
    pattern.push_back(c);
  }
  pattern.push_back('*');
  std::string cursor = "0";
  do {
    Reply reply;
    Command scan = Command{}.arg("SCAN").arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg("1000");
    if (Outcome outcome = impl_->run_one(std::move(scan), reply); !outcome.ok()) return outcome;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || reply->element[1]->type != REDIS_REPLY_ARRAY) {
      return Outcome::failure(StoreStatus::corrupt, "redis: SCAN answered an unexpected shape");
    }
    cursor.assign(reply->element[0]->str, reply->element[0]->len);
    const redisReply* keys = reply->element[1];
    if (keys->elements == 0) continue;
    Command del;
    del.arg("DEL");
    for (size_t i = 0; i < keys->elements; ++i) del.arg(std::string_view(keys->element[i]->str, keys->element[i]->len));
    Reply deleted;
    if (Outcome outcome = impl_->run_one(std::move(del), deleted); !outcome.ok()) return outcome;
  } while (cursor != "0");
  return Outcome::success();
}

}  // namespace strata::storage
