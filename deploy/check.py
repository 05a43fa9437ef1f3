"""The Python half of deploy/check (which see): one subcommand per check, each printing its
problems, one a line, and exiting 1 if there are any. Run from the repository root by the
virtualenv's python (PyYAML comes with yamllint).

    check.py k8s PRODUCTION.yaml PRODUCTION-MIGRATE.yaml   the rendered overlays
    check.py compose
    check.py dockerfile
    check.py dockerignore
    check.py members                                        `cargo metadata` JSON on stdin
    check.py stand-in STATUS                                a one-request health endpoint
"""

import fnmatch
import http.server
import ipaddress
import json
import re
import sys

import yaml


def env_file(path):
    """A `KEY=VALUE` file (blank lines and `#` comments skipped, nothing quoted) as a dict."""
    out = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def documents(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]


def k8s(production, production_migrate):
    """The rendered production overlay against base/yanzheng.env, and the migrate overlay
    against it."""
    env = env_file("deploy/k8s/base/yanzheng.env")
    by_kind = {}
    for d in documents(production):
        by_kind.setdefault(d["kind"], []).append(d)
    problems = []
    port, metrics = int(env["APP__SERVER__PORT"]), int(env["APP__SERVER__METRICS_PORT"])
    grace = int(env["APP__SERVER__SHUTDOWN_GRACE_SECS"])
    secrets = set(env_file("deploy/k8s/base/secret.env.example"))
    configmaps = {d["metadata"]["name"] for d in by_kind.get("ConfigMap", [])}

    for d in by_kind["Deployment"] + by_kind.get("Job", []):
        name = f'{d["kind"]} {d["metadata"]["name"]}'
        pod = d["spec"]["template"]["spec"]
        sc = pod.get("securityContext", {})
        if not sc.get("runAsNonRoot") or not sc.get("runAsUser"):
            problems.append(f"{name}: not runAsNonRoot with a runAsUser")
        for c in pod["containers"]:
            csc = c.get("securityContext", {})
            if not csc.get("readOnlyRootFilesystem") or csc.get("allowPrivilegeEscalation", True):
                problems.append(f"{name}/{c['name']}: readOnlyRootFilesystem, no privilege escalation")
            for source in c.get("envFrom", []):
                if "configMapRef" in source and source["configMapRef"]["name"] not in configmaps:
                    problems.append(f"{name}: no ConfigMap {source['configMapRef']['name']}")
                if "secretRef" in source and source["secretRef"]["name"] != "yanzheng-secrets":
                    problems.append(f"{name}: the Secret is yanzheng-secrets (secret.env.example)")
            if "memory" not in c.get("resources", {}).get("limits", {}):
                problems.append(f"{name}/{c['name']}: no memory limit")

    for d in by_kind["Deployment"]:
        pod = d["spec"]["template"]["spec"]
        c = pod["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        if ports.get("http") != port or ports.get("metrics") != metrics:
            problems.append(f"Deployment ports {ports} are not http={port}, metrics={metrics} (yanzheng.env)")
        annotations = d["spec"]["template"]["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/port") != str(metrics):
            problems.append("Deployment: prometheus.io annotations do not name the metrics port")
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            if c.get(probe, {}).get("httpGet", {}).get("path") != path:
                problems.append(f"Deployment: {probe} is not GET {path}")
        command = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        pre_stop = int(command[1]) if command[:1] == ["sleep"] else 0
        total = pod.get("terminationGracePeriodSeconds", 30)
        # After SIGTERM the listener stays open 1 s, then in-flight requests get the grace period.
        if total <= pre_stop + 1 + grace:
            problems.append(f"terminationGracePeriodSeconds {total} <= preStop {pre_stop} + 1 s + shutdown grace {grace}")
        if "replicas" in d["spec"]:
            problems.append("Deployment sets replicas: the HorizontalPodAutoscaler owns the count")

    for s in by_kind["Service"]:
        targets = {p.get("targetPort") for p in s["spec"]["ports"]}
        if s["metadata"]["name"] == "yanzheng-api" and ("metrics" in targets or metrics in targets):
            problems.append("the public Service yanzheng-api exposes the metrics port")
    if not any(p.get("targetPort") == "metrics" for s in by_kind["Service"] for p in s["spec"]["ports"]):
        problems.append("no Service for the metrics port")
    for kind in ("PodDisruptionBudget", "HorizontalPodAutoscaler", "Job"):
        if kind not in by_kind:
            problems.append(f"no {kind}")
    for key in secrets & set(env):
        problems.append(f"{key} is both in yanzheng.env (ConfigMap) and secret.env.example")

    # production-migrate: the same ConfigMap (same name, so the same content) and the Job, only.
    migrate = documents(production_migrate)
    if sorted(d["kind"] for d in migrate) != ["ConfigMap", "Job"]:
        problems.append(f"production-migrate renders {sorted(d['kind'] for d in migrate)}, not a ConfigMap and the Job")
    elif {d["metadata"]["name"] for d in migrate if d["kind"] == "ConfigMap"} != configmaps:
        problems.append("production-migrate's ConfigMap is not the production overlay's")
    elif [d for d in migrate if d["kind"] == "Job"] != by_kind.get("Job"):
        problems.append("production-migrate's Job differs from the production overlay's")
    return problems


def compose():
    """compose.yaml against its env files and nginx.conf."""
    spec = yaml.safe_load(open("deploy/compose.yaml"))
    services = spec["services"]
    problems = []
    settings = env_file("deploy/compose/api.env")
    secrets = env_file("deploy/compose.env.example")

    for name in ("api", "migrate"):
        for f in services[name].get("env_file", []):
            path = "deploy/" + (f if isinstance(f, str) else f["path"])
            if path == "deploy/compose.env":
                path += ".example"  # made by the operator from the template
            try:
                open(path).close()
            except OSError:
                problems.append(f"{name}: env_file {path} is missing")

    network = next(iter(spec["networks"].values()))
    subnet = ipaddress.ip_network(network["ipam"]["config"][0]["subnet"])
    nginx_ip = ipaddress.ip_address(next(iter(services["nginx"]["networks"].values()))["ipv4_address"])
    if nginx_ip not in subnet:
        problems.append(f"nginx's address {nginx_ip} is outside the network {subnet}")
    trusted = settings.get("APP__SERVER__TRUSTED_PROXIES", "").split(",")
    if settings.get("APP__SERVER__TRUST_FORWARDED_FOR") != "true" or trusted != [str(nginx_ip)]:
        problems.append(f"compose/api.env must trust X-Forwarded-For from nginx ({nginx_ip}) alone, not {trusted}")

    expose = {int(p) for p in services["api"].get("expose", [])}
    for key in ("APP__SERVER__PORT", "APP__SERVER__METRICS_PORT"):
        if int(settings[key]) not in expose:
            problems.append(f"api does not expose {key}={settings[key]}")
    if "ports" in services["api"]:
        problems.append("api publishes ports: only nginx should")
    nginx_conf = open("deploy/compose/nginx.conf").read()
    if f"server api:{settings['APP__SERVER__PORT']}" not in nginx_conf:
        problems.append("nginx.conf does not proxy to api:APP__SERVER__PORT")
    if "$proxy_add_x_forwarded_for" not in nginx_conf:
        problems.append("nginx.conf does not append X-Forwarded-For")

    grace_period = services["api"].get("stop_grace_period", "10s")
    if int(grace_period.rstrip("s")) <= 1 + int(settings["APP__SERVER__SHUTDOWN_GRACE_SECS"]):
        problems.append("api's stop_grace_period is not longer than 1 s + APP__SERVER__SHUTDOWN_GRACE_SECS")
    depends = services["api"].get("depends_on", {})
    for dep, condition in (("migrate", "service_completed_successfully"),
                           ("redis", "service_healthy"), ("postgres", "service_healthy")):
        if depends.get(dep, {}).get("condition") != condition:
            problems.append(f"api does not wait for {dep}: {condition}")
    if services["api"].get("deploy", {}).get("replicas", 1) < 2:
        problems.append("api runs fewer than 2 replicas")
    if services["migrate"].get("command") != ["migrate"]:
        problems.append("migrate does not run `api migrate`")
    for service in ("redis", "postgres"):
        if "healthcheck" not in services[service]:
            problems.append(f"{service} has no healthcheck")

    # Every ${VAR} without a default comes from the env file passed with --env-file.
    text = open("deploy/compose.yaml").read()
    for var in set(re.findall(r"\$\{([A-Z0-9_]+)(?::?\?[^}]*)?\}", text)):
        if var not in secrets:
            problems.append(f"compose.yaml needs ${{{var}}}, which compose.env.example does not set")
    for key in set(settings) & set(secrets):
        problems.append(f"{key} is both in compose/api.env and compose.env.example")
    return problems


def dockerfile():
    """deploy/Dockerfile's shape: multi-stage, ending as a numeric non-root user, with a
    health check."""
    lines = [l.strip() for l in open("deploy/Dockerfile") if l.strip() and not l.lstrip().startswith("#")]
    problems = []
    froms = [l for l in lines if l.upper().startswith("FROM ")]
    if len(froms) < 2:
        problems.append("not multi-stage")
    final = lines[lines.index(froms[-1]):]
    users = [l.split()[1] for l in final if l.upper().startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("0", "root") or not users[-1].split(":")[0].isdigit():
        problems.append("the runtime stage does not end as a numeric non-root USER")
    for word in ("HEALTHCHECK ", "EXPOSE 8080", "STOPSIGNAL SIGTERM", "ENTRYPOINT "):
        if not any(l.startswith(word) for l in final):
            problems.append(f"the runtime stage has no {word.strip()}")
    if not any("cargo build --release -p api --locked" in l for l in lines):
        problems.append("no `cargo build --release -p api --locked`")
    return problems


def dockerignore():
    """.dockerignore sends what the build needs, and no secrets file."""
    patterns = [l.strip() for l in open(".dockerignore") if l.strip() and not l.startswith("#")]

    def excluded(path):
        """Docker's rule, for the patterns used here: the last matching line wins."""
        out = False
        for line in patterns:
            negate, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
            candidates = [path] + [path[:i] for i, c in enumerate(path) if c == "/"]
            if pattern.startswith("**/"):
                candidates += [c.split("/", k)[-1] for c in candidates for k in range(1, c.count("/") + 1)]
                pattern = pattern[3:]
            if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
                out = not negate
        return out

    problems = []
    for path in ("Cargo.toml", "Cargo.lock", "crates/api/src/main.rs", "tools/loadtest/Cargo.toml",
                 "migrations/postgres", "deploy/docker/skeleton.sh", "deploy/docker/healthcheck.sh"):
        if excluded(path):
            problems.append(f".dockerignore leaves out {path}, which the build needs")
    for path in (".git/config", "target/release/api", "data/yanzheng.db", "deploy/compose.env",
                 "deploy/k8s/base/secret.env", "deploy/production.env.example"):
        if not excluded(path):
            problems.append(f".dockerignore sends {path} to the builder")
    return problems


def members():
    """The workspace members' names, sorted, of `cargo metadata` JSON on stdin (printed, not
    problems; with or without --no-deps)."""
    metadata = json.load(sys.stdin)
    ids = set(metadata["workspace_members"])
    print(sorted(p["name"] for p in metadata["packages"] if p["id"] in ids))
    return []


def stand_in(status):
    """Serves one request on a free loopback port (printed first): `status` for /healthz."""
    status = int(status)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 20  # one request, or give up
    print(server.server_address[1], flush=True)
    server.handle_request()
    return []


CHECKS = {"k8s": k8s, "compose": compose, "dockerfile": dockerfile,
          "dockerignore": dockerignore, "members": members, "stand-in": stand_in}

if __name__ == "__main__":
    problems = CHECKS[sys.argv[1]](*sys.argv[2:])
    if problems:
        print("\n".join(problems))
        sys.exit(1)
