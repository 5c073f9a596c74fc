// server/threads.cpp: see threads.h.
#include "server/threads.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace strata::server {

void name_this_thread(const char* name) {
  char shortened[16] = {};
  std::strncpy(shortened, name, sizeof shortened - 1);
  (void)::pthread_setname_np(::pthread_self(), shortened);
}

void renice_this_thread(int delta) {
  if (delta == 0) return;
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, tid);
  if (errno == 0) (void)::setpriority(PRIO_PROCESS, tid, std::clamp(current + delta, -20, 19));
}

}  // namespace strata::server
