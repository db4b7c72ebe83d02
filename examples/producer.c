/*
 * examples/producer.c - the smallest useful producer: create a topic if it is
 * missing, send ten keyed records asynchronously, and wait until the broker
 * has stored every one of them (a delivery callback reports each).
 *
 *   producer [HOST:PORT] [TOPIC]        defaults: 127.0.0.1:9092 greetings
 *
 * Build outside this tree:  cc producer.c $(pkg-config --cflags --libs streambus)
 */
#include <stdio.h>
#include <string.h>

#include <streambus/streambus.h>

/* Called once per record, on the library's I/O thread: keep it short. */
static void
on_delivery(const struct sb_producer_delivery *delivery, void *opaque)
{
    int *failures = opaque;
    if (delivery->error != 0) {
        fprintf(stderr, "record failed: %s\n", sb_client_strerror(delivery->error));
        (*failures)++;
        return;
    }
    printf("stored in %s/%d at offset %lld\n", delivery->topic, (int)delivery->partition,
           (long long)delivery->offset);
}

int
main(int argc, char **argv)
{
    const char *brokers = argc > 1 ? argv[1] : "127.0.0.1:9092";
    const char *topic = argc > 2 ? argv[2] : "greetings";

    /* 1. Configure and open a client (one background I/O thread). */
    struct sb_client_config *config = sb_client_config_new();
    sb_client_config_set(config, "bootstrap.servers", brokers);
    sb_client_config_set(config, "linger.ms", "10"); /* Batch records for up to 10 ms. */
    struct sb_client *client = NULL;
    int result = sb_client_open(config, &client);
    sb_client_config_free(config); /* The client keeps its own copy. */
    if (result != 0) {
        fprintf(stderr, "open: %s\n", sb_client_strerror(result));
        return 1;
    }

    /* 2. Make sure the topic exists (3 partitions). */
    result = sb_admin_topic_create(client, topic, 3, NULL, 0, 5000);
    if (result != 0 && result != SB_ERR_TOPIC_EXISTS) {
        fprintf(stderr, "create %s: %s\n", topic, sb_client_strerror(result));
        sb_client_close(client);
        return 1;
    }

    /* 3. Send. Records with the same key always go to the same partition, in order. */
    struct sb_producer *producer = NULL;
    sb_producer_open(client, &producer);
    int failures = 0;
    for (int index = 0; index < 10; index++) {
        char key[16];
        char value[64];
        snprintf(key, sizeof(key), "user-%d", index % 3);
        snprintf(value, sizeof(value), "hello number %d", index);
        struct sb_producer_message message = {
            .topic = topic,
            .partition = SB_PARTITION_ANY,
            .key = key,
            .key_length = strlen(key),
            .value = value,
            .value_length = strlen(value),
        };
        result = sb_producer_send(producer, &message, on_delivery, &failures);
        if (result != 0) {
            fprintf(stderr, "send: %s\n", sb_client_strerror(result));
            failures++;
        }
    }

    /* 4. Close: waits (here up to 10 s) until every callback has run. */
    result = sb_producer_close(producer, 10000);
    sb_client_close(client);
    return result == 0 && failures == 0 ? 0 : 1;
}
