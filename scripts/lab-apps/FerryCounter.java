// The lab's JVM service (scripts/lab-images java): an HTTP server on port 8080 (FERRY_PORT)
// holding a counter in memory only. GET /incr adds one and returns it, GET /get returns it,
// GET / answers "ok". Lab tooling: it shows whether a JVM's state survives a move.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

public final class FerryCounter {
  private static final AtomicLong counter = new AtomicLong();

  private static void reply(HttpExchange ex, int status, String body) throws IOException {
    byte[] bytes = (body + "\n").getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "text/plain");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  public static void main(String[] args) throws IOException {
    int port = Integer.parseInt(System.getenv().getOrDefault("FERRY_PORT", "8080"));
    HttpServer server = HttpServer.create(new InetSocketAddress(port), 128);
    server.createContext("/", ex -> {
      String path = ex.getRequestURI().getPath();
      switch (path) {
        case "/incr" -> reply(ex, 200, Long.toString(counter.incrementAndGet()));
        case "/get" -> reply(ex, 200, Long.toString(counter.get()));
        case "/" -> reply(ex, 200, "ok");
        default -> reply(ex, 404, "not found");
      }
    });
    server.setExecutor(null); // one thread: requests are tiny
    server.start();
    System.out.println("ferry-counter (java " + Runtime.version() + ") listening on " + port);
  }
}
