// server/nats_bus.cpp — the Bus port over nats.c 3.4.1 (see nats_bus.h for the rules it follows).
// nats.c's callbacks (ack handler, connection callbacks, error handler) run on its threads and
// only append to Impl::Shared under its mutex; everything else runs on the caller's thread.
#include "server/nats_bus.h"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "server/bus_limits.h"
#include "sim/assert.h"

namespace strata::server {
namespace {

constexpr const char* msg_id_header = "Nats-Msg-Id";  // JetStream's dedup header
constexpr int64_t ns_per_ms = 1'000'000;

// What an ack handler hands to poll(): a positive ack, or a failed send with its message back.
struct AckEvent {
  std::string id_text;
  bool ok = false;
  uint64_t seq = 0;
  bool duplicate = false;
  natsStatus error = NATS_OK;
  natsMsg* message = nullptr;  // owned: the failed send, to resend or destroy
};

enum class ConnectionEvent : uint8_t { disconnected, reconnected, closed, missed_heartbeat, error };

std::string status_text(natsStatus status) {
  std::string out = natsStatus_GetText(status);
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0') out.append(": ").append(last);
  return out;
}

}  // namespace

struct NatsBus::Impl {
  struct Shared {  // written by nats.c's threads, drained by poll()
    std::mutex mutex;
    std::condition_variable closed_signal;
    bool closed = false;
    std::deque<AckEvent> acks;
    std::deque<std::pair<ConnectionEvent, natsSubscription*>> events;
    uint64_t events_dropped = 0;
    std::string last_error;  // the library's text for its last async error, for logs
  };
  struct Pending {
    BusMessageId id;
    uint32_t attempts = 0;
    natsMsg* retry = nullptr;  // a send that failed or nats.c refused, sent again at retry_us
    uint64_t retry_us = 0;
  };
  struct Subscription {
    natsSubscription* sub = nullptr;
    BusFilter filter;
    uint64_t last_delivered_seq = 0;
    uint64_t last_consumer_seq = 0;  // of the current consumer: the next must be one more
    uint64_t last_activity_us = 0;   // subscribed, delivered or recreated
    bool broken = false;             // a gap, a mismatch or a missed heartbeat: recreate, read nothing
  };

  NatsBusConfig config;
  std::string prefix;  // "<namespace>." or ""
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  Shared shared;
  std::atomic<BusState> state{BusState::connecting};
  // The stream is made or checked (open(), or maintain() once a connection made in the background
  // is up): until then publishes are held by the caller (buffer_full) and subscriptions wait.
  std::atomic<bool> stream_ready{false};
  BusCounters counters;
  std::map<std::string, Pending> pending;
  // Guarded by subscriptions_mutex: maintain() may run on another thread than poll().
  std::mutex subscriptions_mutex;
  std::map<SubscriptionId, Subscription> subscriptions;
  std::atomic<uint64_t> recreated{0};          // consumers maintain() recreated
  std::atomic<uint64_t> recreate_failures{0};  // and could not
  uint32_t next_subscription = 1;
  bool published_once = false;

  ~Impl();
  [[nodiscard]] bool connect(std::string& error);
  [[nodiscard]] bool ensure_stream(std::string& error);
  [[nodiscard]] natsStatus send(natsMsg** message, const std::string& id_text);
  void take_acks(uint64_t now_us, BusPoll& out);
  void on_failed_send(Pending& pending, natsMsg* message, uint64_t now_us, BusPoll& out, const std::string& id_text);
  void retry_refused(uint64_t now_us, BusPoll& out);
  void take_events();
  [[nodiscard]] natsSubscription* create_consumer(BusFilter filter, uint64_t after_seq);
  void read_deliveries(uint64_t now_us, size_t budget, BusPoll& out);
  void mark_broken(natsSubscription* sub);
  [[nodiscard]] bool deliver(SubscriptionId id, Subscription& subscription, natsMsg* message, BusPoll& out);
  void shut_down();

  // nats.c callbacks: only queue.
  static void on_ack(jsCtx*, natsMsg* message, jsPubAck* ack, jsPubAckErr* error, void* closure);
  static void on_disconnected(natsConnection*, void* closure);
  static void on_reconnected(natsConnection*, void* closure);
  static void on_connected(natsConnection*, void* closure);
  static void on_closed(natsConnection*, void* closure);
  static void on_error(natsConnection*, natsSubscription*, natsStatus status, void* closure);
  void queue_event(ConnectionEvent event, natsSubscription* sub = nullptr);
};

// ---- callbacks (nats.c's threads) ----

void NatsBus::Impl::on_ack(jsCtx*, natsMsg* message, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  auto* impl = static_cast<Impl*>(closure);
  AckEvent event;
  const char* id = nullptr;
  if (natsMsgHeader_Get(message, msg_id_header, &id) == NATS_OK && id != nullptr) event.id_text = id;
  if (ack != nullptr) {
    event.ok = true;
    event.seq = ack->Sequence;
    event.duplicate = ack->Duplicate;
    natsMsg_Destroy(message);
  } else {
    event.error = error != nullptr ? error->Err : NATS_ERR;
    event.message = message;  // poll() resends it or destroys it
  }
  const std::lock_guard lock(impl->shared.mutex);
  impl->shared.acks.push_back(std::move(event));
}

void NatsBus::Impl::queue_event(ConnectionEvent event, natsSubscription* sub) {
  const std::lock_guard lock(shared.mutex);
  if (shared.events.size() >= bus_limits::connection_events_max) {
    ++shared.events_dropped;
    return;
  }
  shared.events.emplace_back(event, sub);
}

void NatsBus::Impl::on_disconnected(natsConnection*, void* closure) {
  auto* impl = static_cast<Impl*>(closure);
  BusState expected = BusState::connected;
  impl->state.compare_exchange_strong(expected, BusState::reconnecting);
  impl->queue_event(ConnectionEvent::disconnected);
}

void NatsBus::Impl::on_reconnected(natsConnection*, void* closure) {
  auto* impl = static_cast<Impl*>(closure);
  BusState expected = BusState::reconnecting;
  impl->state.compare_exchange_strong(expected, BusState::connected);
  impl->queue_event(ConnectionEvent::reconnected);
}

// The first connection, made in the background (connect_in_background).
void NatsBus::Impl::on_connected(natsConnection*, void* closure) {
  auto* impl = static_cast<Impl*>(closure);
  BusState expected = BusState::connecting;
  impl->state.compare_exchange_strong(expected, BusState::connected);
  impl->queue_event(ConnectionEvent::reconnected);
}

void NatsBus::Impl::on_closed(natsConnection*, void* closure) {
  auto* impl = static_cast<Impl*>(closure);
  impl->state.store(BusState::closed);
  const std::lock_guard lock(impl->shared.mutex);
  impl->shared.closed = true;
  impl->shared.closed_signal.notify_all();
}

void NatsBus::Impl::on_error(natsConnection*, natsSubscription* sub, natsStatus status, void* closure) {
  auto* impl = static_cast<Impl*>(closure);
  {
    // nats.c hands the error's text to this thread's last error before calling back.
    const char* text = nats_GetLastError(nullptr);
    std::string line = natsStatus_GetText(status);
    if (text != nullptr && *text != '\0') line.append(": ").append(text);
    line.resize(std::min(line.size(), size_t{512}));
    const std::lock_guard lock(impl->shared.mutex);
    impl->shared.last_error = std::move(line);
  }
  // A missed heartbeat or a sequence mismatch on one of ours: its consumer is recreated.
  const bool consumer_lost =
      sub != nullptr && (status == NATS_MISSED_HEARTBEAT || status == NATS_MISMATCH || status == NATS_SLOW_CONSUMER);
  impl->queue_event(consumer_lost ? ConnectionEvent::missed_heartbeat : ConnectionEvent::error, sub);
}

// ---- open and close ----

bool NatsBus::Impl::connect(std::string& error) {
  // A list goes through SetServers: 3.4.1's SetURL takes a comma-separated list without complaint
  // and then finds no server in it ("No server available for connection").
  std::vector<std::string> urls;
  for (size_t start = 0; start <= config.url.size();) {
    const size_t comma = std::min(config.url.find(',', start), config.url.size());
    if (comma > start) urls.push_back(config.url.substr(start, comma - start));
    start = comma + 1;
  }
  std::vector<const char*> url_ptrs;
  for (const std::string& url : urls) url_ptrs.push_back(url.c_str());
  natsStatus s = natsOptions_Create(&options);
  if (s == NATS_OK) s = natsOptions_SetServers(options, url_ptrs.data(), static_cast<int>(url_ptrs.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(options, config.connect_timeout_ms);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(options, -1);  // keep trying: the node never gives up
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(options, config.reconnect_wait_ms);
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(options, static_cast<int>(config.reconnect_buffer_bytes));
  if (s == NATS_OK) s = natsOptions_SetPingInterval(options, config.ping_interval_ms);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(options, on_disconnected, this);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(options, on_reconnected, this);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(options, on_closed, this);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(options, on_error, this);
  if (s == NATS_OK && config.connect_in_background) {
    s = natsOptions_SetRetryOnFailedConnect(options, true, on_connected, this);
  }
  if (s == NATS_OK) s = natsConnection_Connect(&connection, options);
  if (s == NATS_NOT_YET_CONNECTED && config.connect_in_background) {
    s = NATS_OK;  // nats.c keeps trying; on_connected says when it is up
  } else if (s == NATS_OK) {
    state.store(BusState::connected);
  }
  if (s != NATS_OK) {
    error = "cannot connect to " + config.url + ": " + status_text(s);
    return false;
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = config.api_wait_ms;
  // One above the bus's own limit: nats.c counts a publish until its ack handler has returned, and
  // poll() may free that publish's place (and publish() reuse it) just before; with no margin that
  // publish would stall for StallWait. At most one handler runs at a time (one reply thread).
  js_options.PublishAsync.MaxPending = static_cast<int64_t>(config.pending_max) + 1;
  js_options.PublishAsync.AckHandler = on_ack;
  js_options.PublishAsync.AckHandlerClosure = this;
  s = natsConnection_JetStream(&js, connection, &js_options);
  if (s != NATS_OK) {
    error = "cannot make a JetStream context: " + status_text(s);
    return false;
  }
  return true;
}

bool NatsBus::Impl::ensure_stream(std::string& error) {
  // One subject pattern, not one per channel: a 2.9 consumer has one filter, which must be a subset
  // of one stream subject, and a region's consumer filters events.<region>.* (see nats_bus.h).
  const std::vector<std::string> subjects = {prefix + "events.*.*"};
  std::vector<const char*> subject_ptrs;
  for (const std::string& subject : subjects) subject_ptrs.push_back(subject.c_str());
  jsStreamConfig wanted;
  jsStreamConfig_Init(&wanted);
  wanted.Name = config.stream_name.c_str();
  wanted.Subjects = subject_ptrs.data();
  wanted.SubjectsLen = static_cast<int>(subject_ptrs.size());
  wanted.Storage = config.memory_storage ? js_MemoryStorage : js_FileStorage;
  wanted.Replicas = config.replicas;
  wanted.Duplicates = static_cast<int64_t>(config.dedup_window_ms) * ns_per_ms;

  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js, config.stream_name.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND) {
    s = js_AddStream(&info, js, &wanted, nullptr, &code);
    if (s != NATS_OK) error = "cannot create stream " + config.stream_name + ": " + status_text(s);
  } else if (s == NATS_OK) {
    const jsStreamConfig* have = info->Config;
    bool same = have->Duplicates == wanted.Duplicates && have->Replicas == wanted.Replicas &&
                have->SubjectsLen == wanted.SubjectsLen && have->Storage == wanted.Storage;
    for (int i = 0; same && i < have->SubjectsLen; ++i) same = subjects[static_cast<size_t>(i)] == have->Subjects[i];
    jsStreamInfo_Destroy(info);
    info = nullptr;
    if (!same) {
      s = js_UpdateStream(&info, js, &wanted, nullptr, &code);
      if (s != NATS_OK) error = "stream " + config.stream_name + " differs and cannot be updated: " + status_text(s);
    }
  } else {
    error = "cannot read stream " + config.stream_name + ": " + status_text(s);
  }
  jsStreamInfo_Destroy(info);
  return s == NATS_OK;
}

void NatsBus::Impl::shut_down() {
  for (auto& [id, subscription] : subscriptions) {
    natsSubscription_Unsubscribe(subscription.sub);
    natsSubscription_Destroy(subscription.sub);
  }
  subscriptions.clear();
  if (js != nullptr) {
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = config.close_flush_ms;
    (void)js_PublishAsyncComplete(js, &wait);
    // Take back what is still unacknowledged: nats.c then has no entry left to call back for.
    // (Only after a first async publish: 3.4.1 reads its pending table without checking it exists.)
    natsMsgList left;
    if (published_once && js_PublishAsyncGetPendingList(&left, js) == NATS_OK) natsMsgList_Destroy(&left);
    // A handler already running holds the pending count until it returns: wait for it.
    (void)js_PublishAsyncComplete(js, &wait);
  }
  for (auto& [id_text, entry] : pending) natsMsg_Destroy(entry.retry);
  pending.clear();
  {
    const std::lock_guard lock(shared.mutex);
    for (AckEvent& event : shared.acks) natsMsg_Destroy(event.message);
    shared.acks.clear();
  }
  if (connection != nullptr) {
    natsConnection_Close(connection);
    std::unique_lock lock(shared.mutex);
    shared.closed_signal.wait_for(lock, std::chrono::milliseconds(config.close_flush_ms),
                                  [this] { return shared.closed; });
  }
  jsCtx_Destroy(js);
  js = nullptr;
  natsConnection_Destroy(connection);
  connection = nullptr;
  natsOptions_Destroy(options);
  options = nullptr;
  state.store(BusState::closed);
}

NatsBus::Impl::~Impl() { shut_down(); }

std::unique_ptr<NatsBus> NatsBus::open(const NatsBusConfig& config, std::string& error) {
  STRATA_REQUIRE(config.pending_max >= 1 && config.pending_max <= bus_limits::pending_max, "pending_max out of range",
                 config.pending_max);
  STRATA_REQUIRE(config.publish_attempts >= 1 && config.publish_attempts <= bus_limits::publish_attempts_max,
                 "publish_attempts out of range", config.publish_attempts);
  STRATA_REQUIRE(config.publish_max_wait_ms > 0, "a publish needs a MaxWait, or a lost ack never calls back");
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->prefix = config.subject_namespace.empty() ? "" : config.subject_namespace + ".";
  if (!impl->connect(error)) return nullptr;
  // Connected now: the stream must be right before anything is published. Connecting in the
  // background: maintain() makes or checks it once the server answers.
  if (impl->state.load() == BusState::connected) {
    if (!impl->ensure_stream(error)) return nullptr;
    impl->stream_ready.store(true);
  }
  return std::unique_ptr<NatsBus>(new NatsBus(std::move(impl)));
}

NatsBus::NatsBus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NatsBus::~NatsBus() = default;

// ---- publish ----

natsStatus NatsBus::Impl::send(natsMsg** message, const std::string& id_text) {
  jsPubOptions options_one;
  jsPubOptions_Init(&options_one);
  options_one.MsgId = id_text.c_str();
  options_one.MaxWait = config.publish_max_wait_ms;
  return js_PublishMsgAsync(js, message, &options_one);
}

PublishVerdict NatsBus::publish(BusSubject subject, BusMessageId id, std::span<const uint8_t> payload,
                                uint64_t /*now_us*/) {
  Impl& impl = *impl_;
  STRATA_REQUIRE(subject.origin == id.origin && subject.channel == id.channel,
                 "a message's id names its subject's region and channel", subject.origin, id.origin, subject.channel,
                 id.channel);
  if (impl.state.load() == BusState::closed) {
    ++impl.counters.publish_refused_closed;
    return PublishVerdict::closed;
  }
  if (!impl.stream_ready.load()) {  // no server yet: held by the caller, as while disconnected
    ++impl.counters.publish_refused_buffer_full;
    return PublishVerdict::buffer_full;
  }
  if (payload.size() > bus_limits::payload_bytes_max) {
    ++impl.counters.publish_refused_too_large;
    return PublishVerdict::too_large;
  }
  std::string id_text = message_id_text(id);
  if (impl.pending.contains(id_text)) {
    ++impl.counters.publish_refused_id_pending;
    return PublishVerdict::id_pending;
  }
  if (impl.pending.size() >= impl.config.pending_max) {
    ++impl.counters.publish_refused_pending_full;
    return PublishVerdict::pending_full;
  }
  const std::string subject_full = impl.prefix + subject_text(subject);
  natsMsg* message = nullptr;
  natsStatus s = natsMsg_Create(&message, subject_full.c_str(), nullptr, reinterpret_cast<const char*>(payload.data()),
                                static_cast<int>(payload.size()));
  // Registered before the send: its ack may be queued before js_PublishMsgAsync returns.
  auto [it, inserted] = impl.pending.emplace(id_text, Impl::Pending{id, 1, nullptr, 0});
  STRATA_ASSERT(inserted, "a pending id is refused above", id.tick);
  impl.published_once = true;
  if (s == NATS_OK) s = impl.send(&message, it->first);
  if (s != NATS_OK) {
    natsMsg_Destroy(message);  // still ours when the send failed
    impl.pending.erase(it);
    const bool closed = s == NATS_CONNECTION_CLOSED;
    ++(closed ? impl.counters.publish_refused_closed : impl.counters.publish_refused_buffer_full);
    return closed ? PublishVerdict::closed : PublishVerdict::buffer_full;
  }
  ++impl.counters.publishes;
  return PublishVerdict::accepted;
}

namespace {
constexpr uint64_t retry_pause_first_ms = 50;
constexpr uint64_t retry_pause_max_ms = 2000;
}  // namespace

void NatsBus::Impl::take_acks(uint64_t now_us, BusPoll& out) {
  std::deque<AckEvent> events;
  {
    const std::lock_guard lock(shared.mutex);
    events.swap(shared.acks);
  }
  STRATA_ASSERT(events.size() <= config.pending_max, "at most one ack per pending publish", events.size());
  for (AckEvent& event : events) {
    const auto found = pending.find(event.id_text);
    if (found == pending.end()) {
      ++counters.acks_unmatched;
      natsMsg_Destroy(event.message);
      continue;
    }
    Pending& entry = found->second;
    if (!event.ok) {
      // Sent again after a pause that doubles with each attempt: a refusal comes back at once while
      // a stream elects a leader (seconds, on a cluster that lost a server), and attempts sent
      // without a pause would all be spent on it within milliseconds.
      if (entry.retry != nullptr) natsMsg_Destroy(entry.retry);
      entry.retry = event.message;
      const uint64_t pause_ms =
          std::min<uint64_t>(retry_pause_first_ms << std::min<uint32_t>(entry.attempts, 16), retry_pause_max_ms);
      entry.retry_us = now_us + pause_ms * 1000;
      continue;
    }
    if (entry.retry != nullptr) {  // an earlier send was acked after all, while this one waited to go again
      natsMsg_Destroy(entry.retry);
      entry.retry = nullptr;
    }
    const AckKind kind = event.duplicate ? AckKind::duplicate : AckKind::stored;
    out.acks.push_back(PublishAck{entry.id, kind, event.seq, entry.attempts});
    ++(event.duplicate ? counters.acks_duplicate : counters.acks_stored);
    pending.erase(found);
  }
}

// A send timed out (MaxWait) or the server refused it: send it again with the same id, or give up
// (marked by attempts = 0) after publish_attempts sends.
void NatsBus::Impl::on_failed_send(Pending& entry, natsMsg* message, uint64_t now_us, BusPoll& out,
                                   const std::string& id_text) {
  if (entry.attempts >= config.publish_attempts || message == nullptr) {
    out.acks.push_back(PublishAck{entry.id, AckKind::failed, 0, entry.attempts});
    ++counters.acks_failed;
    natsMsg_Destroy(message);
    entry.attempts = 0;
    return;
  }
  ++entry.attempts;
  ++counters.resends;
  if (send(&message, id_text) != NATS_OK) {
    // nats.c refused it (its reconnect buffer is full): this attempt counts, the next waits MaxWait.
    entry.retry = message;
    entry.retry_us = now_us + static_cast<uint64_t>(config.publish_max_wait_ms) * 1000;
  }
}

void NatsBus::Impl::retry_refused(uint64_t now_us, BusPoll& out) {
  for (auto it = pending.begin(); it != pending.end();) {
    Pending& entry = it->second;
    if (entry.retry == nullptr || entry.retry_us > now_us) {
      ++it;
      continue;
    }
    natsMsg* message = entry.retry;
    entry.retry = nullptr;
    on_failed_send(entry, message, now_us, out, it->first);
    it = entry.attempts == 0 ? pending.erase(it) : std::next(it);
  }
}

void NatsBus::Impl::take_events() {
  std::deque<std::pair<ConnectionEvent, natsSubscription*>> events;
  uint64_t dropped = 0;
  {
    const std::lock_guard lock(shared.mutex);
    events.swap(shared.events);
    dropped = shared.events_dropped;
    shared.events_dropped = 0;
  }
  counters.events_dropped += dropped;
  for (const auto& [event, sub] : events) {
    switch (event) {
      case ConnectionEvent::disconnected: ++counters.disconnects; break;
      case ConnectionEvent::reconnected: ++counters.reconnects; break;
      case ConnectionEvent::missed_heartbeat: mark_broken(sub); break;
      case ConnectionEvent::closed:
      case ConnectionEvent::error: ++counters.connection_errors; break;
    }
  }
}

// ---- subscribe and deliver ----

natsSubscription* NatsBus::Impl::create_consumer(BusFilter filter, uint64_t after_seq) {
  const std::string subject = prefix + filter_text(filter);
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = config.stream_name.c_str();
  // What nats.c's Ordered option sets up, without its recreation path (see nats_bus.h): an
  // ephemeral push consumer, no acks, one delivery each, flow control and heartbeats.
  options.Config.DeliverPolicy = js_DeliverByStartSequence;
  options.Config.OptStartSeq = after_seq + 1;
  options.Config.AckPolicy = js_AckNone;
  options.Config.MaxDeliver = 1;
  options.Config.FlowControl = true;
  options.Config.Heartbeat = config.consumer_heartbeat_ms * ns_per_ms;
  options.Config.MemoryStorage = true;
  options.Config.InactiveThreshold = config.consumer_inactive_ms * ns_per_ms;
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (js_SubscribeSync(&sub, js, subject.c_str(), nullptr, &options, &code) != NATS_OK) return nullptr;
  // No limit in nats.c's queue (see nats_bus.h): flow control bounds it, a drop would be a gap.
  natsSubscription_SetPendingLimits(sub, -1, -1);
  return sub;
}

std::optional<SubscriptionId> NatsBus::subscribe(BusFilter filter, uint64_t after_seq, uint64_t now_us) {
  Impl& impl = *impl_;
  if (impl.state.load() == BusState::closed || !impl.stream_ready.load()) return std::nullopt;
  {
    const std::lock_guard lock(impl.subscriptions_mutex);
    if (impl.subscriptions.size() >= bus_limits::subscriptions_max) return std::nullopt;
  }
  natsSubscription* sub = impl.create_consumer(filter, after_seq);
  if (sub == nullptr) {
    ++impl.counters.connection_errors;
    return std::nullopt;
  }
  const std::lock_guard lock(impl.subscriptions_mutex);
  const SubscriptionId id{impl.next_subscription++};
  impl.subscriptions.emplace(id, Impl::Subscription{sub, filter, after_seq, now_us});
  return id;
}

void NatsBus::unsubscribe(SubscriptionId subscription) {
  natsSubscription* sub = nullptr;
  {
    const std::lock_guard lock(impl_->subscriptions_mutex);
    const auto found = impl_->subscriptions.find(subscription);
    if (found == impl_->subscriptions.end()) return;
    sub = found->second.sub;
    impl_->subscriptions.erase(found);
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
}

void NatsBus::maintain(uint64_t now_us) {
  Impl& impl = *impl_;
  if (impl.state.load() != BusState::connected) return;
  if (!impl.stream_ready.load()) {
    std::string error;
    if (!impl.ensure_stream(error)) {
      const std::lock_guard lock(impl.shared.mutex);
      impl.shared.last_error = error;
      return;
    }
    impl.stream_ready.store(true);
  }
  struct Idle {
    SubscriptionId id;
    BusFilter filter;
    uint64_t after_seq;
  };
  std::vector<Idle> idle;
  {
    const std::lock_guard lock(impl.subscriptions_mutex);
    for (const auto& [id, subscription] : impl.subscriptions) {
      if (subscription.broken ||
          now_us - std::min(now_us, subscription.last_activity_us) >= impl.config.consumer_idle_recreate_ms * 1000) {
        idle.push_back(Idle{id, subscription.filter, subscription.last_delivered_seq});
      }
    }
  }
  for (const Idle& one : idle) {
    natsSubscription* fresh = impl.create_consumer(one.filter, one.after_seq);  // a request: outside the lock
    if (fresh == nullptr) {
      ++impl.recreate_failures;
      continue;
    }
    natsSubscription* old = fresh;  // discarded if the subscription went away meanwhile
    {
      const std::lock_guard lock(impl.subscriptions_mutex);
      const auto found = impl.subscriptions.find(one.id);
      if (found != impl.subscriptions.end()) {
        // What the old consumer delivers meanwhile is at or below last_delivered_seq when the new
        // one repeats it: poll() drops it by sequence.
        old = found->second.sub;
        found->second.sub = fresh;
        found->second.last_consumer_seq = 0;
        found->second.broken = false;
        found->second.last_activity_us = now_us;
        ++impl.recreated;
      }
    }
    natsSubscription_Destroy(old);
  }
}

void NatsBus::Impl::mark_broken(natsSubscription* sub) {
  const std::lock_guard lock(subscriptions_mutex);
  for (auto& [id, subscription] : subscriptions) {
    if (subscription.sub == sub) subscription.broken = true;
  }
}

void NatsBus::Impl::read_deliveries(uint64_t now_us, size_t budget, BusPoll& out) {
  const std::lock_guard lock(subscriptions_mutex);
  for (auto& [id, subscription] : subscriptions) {
    while (budget > 0 && !subscription.broken) {
      natsMsg* message = nullptr;
      // Timeout 0: returns at once, NATS_TIMEOUT when the queue is empty.
      const natsStatus status = natsSubscription_NextMsg(&message, subscription.sub, 0);
      if (status == NATS_MISMATCH || status == NATS_SLOW_CONSUMER) subscription.broken = true;
      if (status != NATS_OK) break;
      if (deliver(id, subscription, message, out)) {
        --budget;
        subscription.last_activity_us = now_us;
      }
      natsMsg_Destroy(message);
    }
  }
}

// Untrusted: whoever may publish on the stream wrote the subject, the id header and the payload.
bool NatsBus::Impl::deliver(SubscriptionId id, Subscription& subscription, natsMsg* message, BusPoll& out) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, message) != NATS_OK) {
    ++counters.connection_errors;
    return false;
  }
  const uint64_t seq = meta->Sequence.Stream;
  const uint64_t consumer_seq = meta->Sequence.Consumer;
  jsMsgMetaData_Destroy(meta);
  if (consumer_seq != subscription.last_consumer_seq + 1) {
    // A gap: a message of this consumer was lost on the way (a reconnect, a server lost). Read
    // nothing more from it; maintain() recreates it after the last sequence delivered.
    subscription.broken = true;
    return false;
  }
  subscription.last_consumer_seq = consumer_seq;
  if (seq <= subscription.last_delivered_seq) {
    ++counters.deliveries_duplicate;
    return false;
  }
  const char* id_text = nullptr;
  std::optional<std::string_view> id_header;
  if (natsMsgHeader_Get(message, msg_id_header, &id_text) == NATS_OK && id_text != nullptr) id_header = id_text;
  const int size = std::max(natsMsg_GetDataLength(message), 0);
  // Whatever is refused is still passed: the consumer never asks for it again.
  subscription.last_delivered_seq = seq;
  const DeliveryCheck check =
      check_delivery(prefix, subscription.filter, natsMsg_GetSubject(message), id_header, static_cast<size_t>(size));
  switch (check.verdict) {
    case DeliveryVerdict::accepted: break;
    case DeliveryVerdict::bad_subject: ++counters.deliveries_refused_subject; return false;
    case DeliveryVerdict::bad_message_id: ++counters.deliveries_refused_message_id; return false;
    case DeliveryVerdict::forged: ++counters.deliveries_refused_forged; return false;
    case DeliveryVerdict::too_large: ++counters.deliveries_refused_too_large; return false;
  }
  const auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(message));
  out.deliveries.push_back(
      Delivery{id, seq, check.subject, check.id, std::vector<uint8_t>(data, data + static_cast<size_t>(size))});
  ++counters.deliveries;
  return true;
}

// ---- poll and state ----

void NatsBus::poll(uint64_t now_us, size_t deliveries_max, BusPoll& out) {
  Impl& impl = *impl_;
  impl.take_events();
  impl.take_acks(now_us, out);
  impl.retry_refused(now_us, out);
  impl.read_deliveries(now_us, std::min(deliveries_max, bus_limits::deliveries_per_poll_max), out);
}

BusState NatsBus::state() const { return impl_->state.load(); }
std::string NatsBus::last_error() const {
  const std::lock_guard lock(impl_->shared.mutex);
  return impl_->shared.last_error;
}
size_t NatsBus::pending() const { return impl_->pending.size(); }
BusCounters NatsBus::counters() const {
  BusCounters out = impl_->counters;
  out.consumer_resets += impl_->recreated.load();
  out.connection_errors += impl_->recreate_failures.load();
  return out;
}

NatsBus::Buffered NatsBus::buffered_deliveries() const {
  const std::lock_guard lock(impl_->subscriptions_mutex);
  Buffered total;
  for (const auto& [id, subscription] : impl_->subscriptions) {
    int messages = 0;
    int bytes = 0;
    if (natsSubscription_GetPending(subscription.sub, &messages, &bytes) != NATS_OK) continue;
    total.messages += static_cast<uint64_t>(std::max(messages, 0));
    total.bytes += static_cast<uint64_t>(std::max(bytes, 0));
  }
  return total;
}

std::optional<StoredMark> NatsBus::last_stored(BusSubject subject) {
  if (!impl_->stream_ready.load()) return std::nullopt;
  const std::string text = impl_->prefix + subject_text(subject);
  natsMsg* message = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status =
      js_GetLastMsg(&message, impl_->js, impl_->config.stream_name.c_str(), text.c_str(), nullptr, &code);
  if (status == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return StoredMark{};
  if (status != NATS_OK) return std::nullopt;
  StoredMark mark{natsMsg_GetSequence(message), std::nullopt};
  const char* id = nullptr;
  if (natsMsgHeader_Get(message, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) mark.id = parse_message_id(id);
  natsMsg_Destroy(message);
  return mark;
}

std::optional<uint64_t> NatsBus::stream_last_seq() {
  jsStreamInfo* info = nullptr;
  if (js_GetStreamInfo(&info, impl_->js, impl_->config.stream_name.c_str(), nullptr, nullptr) != NATS_OK) {
    return std::nullopt;
  }
  const uint64_t last = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  return last;
}

}  // namespace strata::server
