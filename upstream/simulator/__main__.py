"""Command line: `python -m upstream.simulator --port 8001 --key KEY` serves a simulated provider."""

import argparse
import signal
import sys
from types import FrameType

from .catalog import demo_catalog, generated_catalog
from .clock import RealClock
from .server import Simulator
from .workload import order_book


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m upstream.simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--key", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--services", type=int, help="serve N generated services instead of the demo catalog")
    parser.add_argument("--speed", type=float, default=1.0, help="clock speed factor (0 stops the clock)")
    parser.add_argument("--latency-ms", type=int, default=0, help="wait this long before answering each call")
    parser.add_argument(
        "--orders", type=int, default=0, help="start with N orders (ids 1..N) of service 1 in a realistic mix of states"
    )
    args = parser.parse_args(argv)
    if args.latency_ms < 0 or args.orders < 0:
        parser.error("--latency-ms and --orders cannot be negative")

    catalog = demo_catalog() if args.services is None else generated_catalog(args.services)
    simulator = Simulator(key=args.key, catalog=catalog, clock=RealClock(args.speed), host=args.host, port=args.port)
    simulator.faults.latency = args.latency_ms / 1000
    if args.orders:
        simulator.orders_load(order_book(args.orders, now=simulator.clock.now(), timing=simulator.timing))
    simulator.start()

    def shut_down(signum: int, frame: FrameType | None) -> None:
        simulator.stop()

    signal.signal(signal.SIGINT, shut_down)
    signal.signal(signal.SIGTERM, shut_down)
    print(f"Simulator provider listening on {simulator.url}", flush=True)
    simulator.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
