/*
 * examples/consumer.c - read every partition of a topic from the beginning and
 * print each record, until no record arrives for a second (or MAX records).
 *
 *   consumer [HOST:PORT] [TOPIC] [MAX]   defaults: 127.0.0.1:9092 greetings unlimited
 *
 * Build outside this tree:  cc consumer.c $(pkg-config --cflags --libs streambus)
 */
#include <stdio.h>
#include <stdlib.h>

#include <streambus/streambus.h>

int
main(int argc, char **argv)
{
    const char *brokers = argc > 1 ? argv[1] : "127.0.0.1:9092";
    const char *topic = argc > 2 ? argv[2] : "greetings";
    long max = argc > 3 ? atol(argv[3]) : -1;

    struct sb_client_config *config = sb_client_config_new();
    sb_client_config_set(config, "bootstrap.servers", brokers);
    struct sb_client *client = NULL;
    int result = sb_client_open(config, &client);
    sb_client_config_free(config);
    if (result != 0) {
        fprintf(stderr, "open: %s\n", sb_client_strerror(result));
        return 1;
    }

    /* Ask how many partitions the topic has, then read all of them from the start. */
    int partitions = sb_client_partition_count(client, topic, 5000);
    if (partitions < 0) {
        fprintf(stderr, "%s: %s\n", topic, sb_client_strerror(partitions));
        sb_client_close(client);
        return 1;
    }
    struct sb_consumer *consumer = NULL;
    sb_consumer_open(client, &consumer);
    for (int partition = 0; partition < partitions; partition++) {
        sb_consumer_assign(consumer, topic, partition);
        sb_consumer_seek(consumer, topic, partition, SB_OFFSET_BEGINNING);
    }

    /* Poll: 1 = a record (valid until the next poll), 0 = nothing for 1 s, < 0 = error. */
    long count = 0;
    while (max < 0 || count < max) {
        const struct sb_consumer_record *record = NULL;
        result = sb_consumer_poll(consumer, 1000, &record);
        if (result == 0) {
            break;
        }
        if (result < 0) {
            fprintf(stderr, "%s/%d: %s\n", record->topic, (int)record->partition,
                    sb_client_strerror(result));
            break;
        }
        printf("%s/%d@%lld %.*s = %.*s\n", record->topic, (int)record->partition,
               (long long)record->offset, (int)record->key_length,
               record->key != NULL ? (const char *)record->key : "",
               (int)record->value_length, (const char *)record->value);
        count++;
    }

    sb_consumer_close(consumer);
    sb_client_close(client);
    return result < 0 ? 1 : 0;
}
