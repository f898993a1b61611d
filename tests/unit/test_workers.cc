// daemon/workers.cc: the queue shared fairly between keys (caller uids):
// keys served in turn, and at the bound a newcomer pushes out the newest job
// of the key holding the most, which is told so; a key at its share is refused.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/workers.h"

// cmocka last: its macros (fail, ...) must not meet the C++ headers.
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
}

using namespace dj;

namespace {

// Holds the pool's one worker in a job until released, so that the test
// decides what is queued.
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false, entered = false;
    void wait_entered() {
        std::unique_lock<std::mutex> l(m);
        cv.wait(l, [this] { return entered; });
    }
    void release() {
        std::lock_guard<std::mutex> l(m);
        open = true;
        cv.notify_all();
    }
    WorkerPool::Job job() {
        return [this](bool) {
            std::unique_lock<std::mutex> l(m);
            entered = true;
            cv.notify_all();
            cv.wait(l, [this] { return open; });
        };
    }
};

struct Log {
    std::mutex m;
    std::vector<int> ran, refused;
    WorkerPool::Job job(int tag) {
        return [this, tag](bool run) {
            std::lock_guard<std::mutex> l(m);
            (run ? ran : refused).push_back(tag);
        };
    }
};

// Holds the pool's worker in the gate, then queues n jobs of key 1 (tags 10...).
void hold_and_fill(WorkerPool& pool, Gate& gate, Log& log, int n) {
    assert_true(pool.submit(1, gate.job()));
    gate.wait_entered();
    for (int i = 0; i < n; ++i) assert_true(pool.submit(1, log.job(10 + i)));
}

// Opens the gate, lets the pool run what is queued, and checks the order.
void run_and_check(WorkerPool& pool, Gate& gate, Log& log, const std::vector<int>& want) {
    gate.release();
    for (int i = 0; i < 5000 && pool.queued() > 0; ++i) usleep(1000);
    usleep(20000);  // the last job taken has run
    std::lock_guard<std::mutex> l(log.m);
    assert_int_equal(log.ran.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) assert_int_equal(log.ran[i], want[i]);
}

void test_keys_served_in_turn(void**) {
    WorkerPool pool("t", 1, 100);
    Gate gate;
    Log log;
    // Key 1 queues five jobs, then key 2 two: served 1, 2, 1, 2, 1, 1, 1.
    hold_and_fill(pool, gate, log, 5);
    for (int i = 0; i < 2; ++i) assert_true(pool.submit(2, log.job(20 + i)));
    run_and_check(pool, gate, log, {10, 20, 11, 21, 12, 13, 14});
    assert_true(log.refused.empty());
}

void test_full_queue_pushes_out_the_fullest_key(void**) {
    WorkerPool pool("t", 1, 4);
    Gate gate;
    Log log;
    hold_and_fill(pool, gate, log, 4);
    // Key 1 holds the whole queue: it is refused more ...
    assert_false(pool.submit(1, log.job(99)));
    // ... while key 2 gets in, and key 1's newest job is told it was pushed out.
    assert_true(pool.submit(2, log.job(20)));
    assert_int_equal(log.refused.size(), 1);
    assert_int_equal(log.refused[0], 13);
    assert_true(pool.submit(3, log.job(30)));
    assert_int_equal(log.refused.back(), 12);
    // Keys 1, 2, 3 now hold 2, 1, 1: key 2 may not push key 1 down to its own
    // size, and key 1 may not grow.
    assert_false(pool.submit(2, log.job(98)));
    assert_false(pool.submit(1, log.job(97)));
    assert_int_equal(pool.queued(), 4);
    run_and_check(pool, gate, log, {10, 20, 30, 11});
}

void test_stop_drops_queued_jobs(void**) {
    Log log;
    Gate gate;
    {
        WorkerPool pool("t", 1, 10);
        assert_true(pool.submit(1, gate.job()));
        gate.wait_entered();
        assert_true(pool.submit(2, log.job(1)));
        // The worker is held in the gate: job 1 leaves the queue only
        // when stop() drops it; then the gate opens.
        std::thread opener([&] {
            while (pool.queued() > 0) usleep(1000);
            gate.release();
        });
        pool.stop();
        opener.join();
        assert_false(pool.submit(2, log.job(2)));
    }
    assert_true(log.ran.empty());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_served_in_turn),
        cmocka_unit_test(test_full_queue_pushes_out_the_fullest_key),
        cmocka_unit_test(test_stop_drops_queued_jobs),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
