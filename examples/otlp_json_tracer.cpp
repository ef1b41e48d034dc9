// A pgtls::Tracer that writes one JSON line per span in OTLP/JSON shape (an
// ExportTraceServiceRequest holding that one span, as the OpenTelemetry collector's file
// exporter writes them), with no dependency. Connects, runs a query, a failing query and a
// pipeline, and prints their spans on stdout.
//
//   otlp_json_tracer [CONNINFO]     (PG* environment variables apply as in libpq)
//
// Every span of this run shares one trace id (pgtls spans carry their own span and parent ids;
// an application that has a trace context of its own would use its trace id instead).
#include <cstdio>
#include <iostream>
#include <mutex>
#include <random>
#include <string>

#include "pgtls/pgtls.hpp"

namespace {

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

std::string hex(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string nanos(std::chrono::system_clock::time_point t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

// OTLP's AnyValue: int64 as a JSON string, as the protobuf JSON mapping requires.
std::string any_value(const pgtls::TraceValue& v) {
    if (const auto* s = std::get_if<std::string>(&v)) return "{\"stringValue\":" + json_string(*s) + "}";
    if (const auto* i = std::get_if<std::int64_t>(&v)) return "{\"intValue\":\"" + std::to_string(*i) + "\"}";
    if (const auto* d = std::get_if<double>(&v)) return "{\"doubleValue\":" + std::to_string(*d) + "}";
    return std::string("{\"boolValue\":") + (std::get<bool>(v) ? "true" : "false") + "}";
}

class OtlpJsonTracer : public pgtls::Tracer {
public:
    explicit OtlpJsonTracer(std::ostream& out) : out_(out) {
        std::random_device rd;
        trace_id_ = hex((std::uint64_t{rd()} << 32) ^ rd()) + hex((std::uint64_t{rd()} << 32) ^ rd());
    }

    void on_span(const pgtls::Span& span) override {
        std::string line = "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
                           "{\"stringValue\":\"otlp_json_tracer\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"pgtls\"},"
                           "\"spans\":[{";
        line += "\"traceId\":\"" + trace_id_ + "\",\"spanId\":\"" + hex(span.id) + "\"";
        if (span.parent_id) line += ",\"parentSpanId\":\"" + hex(span.parent_id) + "\"";
        line += ",\"name\":" + json_string(span.name) + ",\"kind\":3";  // SPAN_KIND_CLIENT
        line += ",\"startTimeUnixNano\":\"" + nanos(span.start) + "\",\"endTimeUnixNano\":\"" + nanos(span.end) + "\"";
        line += ",\"attributes\":[";
        for (std::size_t i = 0; i < span.attributes.size(); ++i) {
            if (i) line += ',';
            line += "{\"key\":" + json_string(span.attributes[i].key) + ",\"value\":" + any_value(span.attributes[i].value) + "}";
        }
        line += "],\"status\":";
        line += span.ok ? "{\"code\":1}" : "{\"code\":2,\"message\":" + json_string(span.error) + "}";
        line += "}]}]}]}\n";
        std::lock_guard<std::mutex> lock(mutex_);  // one tracer may serve many threads
        out_ << line << std::flush;
    }

private:
    std::ostream& out_;
    std::mutex mutex_;
    std::string trace_id_;
};

}  // namespace

int main(int argc, char** argv) {
    try {
        pgtls::Config config;
        config.conninfo = argc > 1 ? argv[1] : "";
        config.tracer = std::make_shared<OtlpJsonTracer>(std::cout);
        config.trace_query_text = true;  // statements' text (never parameter values)
        pgtls::Client client(config);
        client.query("SELECT 1");
        try {
            client.query("SELECT 1/0");
        } catch (const pgtls::ServerError&) {
            // Its span has status code 2 and db.response.status_code 22012.
        }
        pgtls::Pipeline pipeline(client);
        pipeline.add("SELECT 1");
        pipeline.add("SELECT 2");
        pipeline.run();
        client.close();
        return 0;
    } catch (const pgtls::Error& e) {
        std::cerr << "otlp_json_tracer: " << e.what() << '\n';
        return 2;
    }
}
