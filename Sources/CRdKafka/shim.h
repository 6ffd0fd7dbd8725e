// The C surface of librdkafka that the Kafka module wraps. Only librdkafka's public headers are
// included: the mock cluster header is for the wrapper's own tests.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
