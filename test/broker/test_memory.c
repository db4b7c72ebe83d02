/*
 * test/broker/test_memory.c - broker/memory.c: the memory limit read from cgroup v1
 * and v2 trees (fake ones under a temporary directory), and the per-shard
 * budgets fitted into it (explicit settings kept, floors honoured, a limit too
 * small refused with a message, by the function and by the broker process).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "broker/config.h"
#include "broker/memory.h"

static char root[64];

static void
write_file(const char *relative, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, relative);
    /* mkdir -p of the parent directories. */
    for (char *slash = strchr(path + strlen(root) + 1, '/'); slash != NULL;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    FILE *file = fopen(path, "w");
    cr_assert_not_null(file, "%s", path);
    fputs(text, file);
    fclose(file);
}

static void
make_root(void)
{
    snprintf(root, sizeof(root), "/tmp/sb-memory-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void
remove_root(void)
{
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", root);
    cr_assert_eq(system(command), 0);
}

static uint64_t
limit_of(void)
{
    char proc[128];
    snprintf(proc, sizeof(proc), "%s/proc-cgroup", root);
    return sb_memory_cgroup_limit(proc, root);
}

TestSuite(memory, .init = make_root, .fini = remove_root);

Test(memory, cgroup_v2_takes_the_tightest_limit_along_the_path)
{
    write_file("proc-cgroup", "0::/system.slice/broker.service\n");
    write_file("system.slice/memory.max", "536870912\n");
    write_file("system.slice/broker.service/memory.max", "max\n");
    cr_assert_eq(limit_of(), 536870912ull, "the parent's limit binds the child");
    write_file("system.slice/broker.service/memory.max", "268435456\n");
    cr_assert_eq(limit_of(), 268435456ull);
}

Test(memory, cgroup_v1_memory_controller_and_unlimited)
{
    write_file("proc-cgroup", "12:cpu,cpuacct:/x\n7:memory:/streambus\n1:name=systemd:/\n");
    write_file("memory/streambus/memory.limit_in_bytes", "9223372036854771712\n");
    cr_assert_eq(limit_of(), 0, "v1's 'unlimited' is no limit");
    write_file("memory/streambus/memory.limit_in_bytes", "167772160\n");
    cr_assert_eq(limit_of(), 167772160ull);
}

Test(memory, no_cgroup_file_or_no_memory_files_mean_no_limit)
{
    cr_assert_eq(limit_of(), 0, "no /proc/self/cgroup");
    write_file("proc-cgroup", "0::/lonely\n");
    cr_assert_eq(limit_of(), 0, "no memory.max anywhere");
    write_file("proc-cgroup", "garbage without colons\n");
    cr_assert_eq(limit_of(), 0);
}

Test(memory, budgets_that_fit_are_left_alone)
{
    struct sb_broker_config config;
    sb_broker_config_defaults(&config);
    char error[320] = "";
    cr_assert_eq(sb_memory_fit(&config, 2, 24ull << 30, error, sizeof(error)), 0);
    cr_assert_eq(config.request_memory_bytes, 256ull << 20);
    cr_assert_eq(config.memtable_bytes, 64ull << 20);
    cr_assert_eq(config.block_cache_bytes, 64ull << 20);
}

Test(memory, defaults_shrink_to_fit_and_explicit_budgets_are_kept)
{
    struct sb_broker_config config;
    sb_broker_config_defaults(&config);
    char error[320] = "";
    cr_assert_eq(sb_broker_config_set(&config, "block_cache_bytes", "6m", error,
                                      sizeof(error)), 0);
    uint64_t limit = 256ull << 20;
    cr_assert_eq(sb_memory_fit(&config, 2, limit, error, sizeof(error)), 1);
    cr_assert_eq(config.block_cache_bytes, 6ull << 20, "set explicitly: kept");
    uint64_t per_shard = config.request_memory_bytes + config.memtable_bytes +
                         config.block_cache_bytes;
    uint64_t overhead = SB_MEMORY_PROCESS_OVERHEAD_BYTES + 2 * SB_MEMORY_SHARD_OVERHEAD_BYTES;
    cr_assert_leq(2 * per_shard + overhead, limit / 4 * 3);
    cr_assert_geq(config.request_memory_bytes, (uint64_t)config.max_frame_bytes,
                  "a largest frame still fits");
    cr_assert_geq(config.memtable_bytes, SB_MEMORY_MEMTABLE_MIN_BYTES);
    cr_assert_eq(config.memtable_bytes % 4096, 0, "the store needs whole blocks");
    cr_assert_gt(config.request_memory_bytes, config.memtable_bytes,
                 "shrunk in proportion: the largest stays largest");
}

Test(memory, a_limit_below_the_floors_is_refused_with_the_numbers)
{
    struct sb_broker_config config;
    sb_broker_config_defaults(&config);
    char error[320] = "";
    cr_assert_eq(sb_memory_fit(&config, 2, 100ull << 20, error, sizeof(error)), -ENOMEM);
    cr_assert(strstr(error, "100 MiB") != NULL, "%s", error);
    cr_assert(strstr(error, "2 shards") != NULL, "%s", error);
    cr_assert_eq(config.request_memory_bytes, 256ull << 20, "nothing changed");
    /* Explicit budgets too large for the limit are refused as well, not silently shrunk. */
    sb_broker_config_defaults(&config);
    cr_assert_eq(sb_broker_config_set(&config, "request_memory_bytes", "512m", error,
                                      sizeof(error)), 0);
    cr_assert_eq(sb_memory_fit(&config, 1, 512ull << 20, error, sizeof(error)), -ENOMEM);
}

Test(memory, the_broker_refuses_to_start_when_its_budgets_do_not_fit, .timeout = 30)
{
    char command[512];
    snprintf(command, sizeof(command),
             "%s --data-dir %s/data --listen 127.0.0.1:29000 --cores 2 "
             "--memory-limit-bytes 100m 2>&1", STREAMBUS_BINARY, root);
    FILE *output = popen(command, "r");
    cr_assert_not_null(output);
    char line[1024];
    bool explained = false;
    while (fgets(line, sizeof(line), output) != NULL) {
        explained |= strstr(line, "the memory budgets do not fit") != NULL &&
                     strstr(line, "100 MiB") != NULL;
    }
    int status = pclose(output);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit status %d", status);
    cr_assert(explained, "the log says why, with the limit");
}
