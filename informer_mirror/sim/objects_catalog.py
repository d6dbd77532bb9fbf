"""The catalogue of what runs in the simulated cluster: container images, apps, names.

Place in the data flow: read by the pod and workload factories (``objects_pods``,
``objects_workloads``) and by ``objects.populate`` to pick what a namespace runs. Pure constant data
(frozen dataclasses and tuples); no thread owns it and nothing mutates it.

The profiles are modelled on what a typical production cluster carries (an nginx, Go/JVM/Python
services with metrics ports, Redis/Postgres StatefulSets, service-mesh sidecars, kube-proxy and
node-exporter DaemonSets), so objects have realistic variety and sizes rather than one shape.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvVar:
    """One environment variable; ``{app}`` and ``{ns}`` in ``value`` are filled per workload."""

    name: str
    """Variable name."""
    source: str = "value"
    """``value`` (literal), ``field`` (downward API fieldRef), ``secret`` or ``configmap``
    (a key reference)."""
    value: str = ""
    """Literal value, field path, or ``object:key`` for the key references."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerProfile:
    """A container as people write it in a pod template."""

    name: str
    """Container name; ``{app}`` is replaced by the app name."""
    image: str
    """Image repository without tag, e.g. ``docker.io/library/nginx``; may contain ``{app}``."""
    tags: tuple[str, ...]
    """Tags to choose from."""
    ports: tuple[tuple[str, int, str], ...] = ()
    """(name, containerPort, protocol)."""
    probe: str = ""
    """``http:PATH:PORT``, ``tcp:PORT``, ``exec:CMD`` or empty for none."""
    cpu: tuple[str, ...] = ("100m",)
    """CPU request choices."""
    memory: tuple[str, ...] = ("128Mi",)
    """Memory request choices (the limit is the request, or twice it)."""
    env: tuple[EnvVar, ...] = ()
    """Environment."""
    command: tuple[str, ...] = ()
    """Entrypoint override."""
    args: tuple[str, ...] = ()
    """Arguments."""
    mounts: tuple[tuple[str, str], ...] = ()
    """(volume name, mount path); volumes named ``config``/``data``/... are declared by the pod."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppProfile:
    """A kind of application: its main container, optional sidecars and init containers."""

    key: str
    """Catalogue key."""
    main: ContainerProfile
    """The application container."""
    sidecars: tuple[ContainerProfile, ...] = ()
    """Each is added with probability ``sidecar_chance``."""
    sidecar_chance: float = 0.3
    """Probability of each sidecar."""
    init: tuple[ContainerProfile, ...] = ()
    """One of these runs first with probability ``init_chance``."""
    init_chance: float = 0.0
    """Probability of an init container."""


SQL_PROXY = ContainerProfile(
    name="cloud-sql-proxy",
    image="gcr.io/cloud-sql-connectors/cloud-sql-proxy",
    tags=("2.11.4", "2.13.0"),
    cpu=("10m",),
    memory=("32Mi",),
    args=("--structured-logs", "--port=5432", "acme-prod:europe-west1:{app}-db"),
)
WAIT_FOR_DB = ContainerProfile(
    name="wait-for-db",
    image="docker.io/library/busybox",
    tags=("1.36.1",),
    cpu=("10m",),
    memory=("16Mi",),
    command=("sh", "-c", "until nc -z {app}-db 5432; do echo waiting for db; sleep 2; done"),
)
MIGRATE = ContainerProfile(
    name="migrate",
    image="ghcr.io/acme/{app}-migrations",
    tags=("v1.4.2", "v2.0.1", "v2.3.0"),
    cpu=("50m",),
    memory=("64Mi",),
    env=(EnvVar(name="DATABASE_URL", source="secret", value="{app}-db:url"),),
    command=("/app/migrate", "up"),
)

WEB_APPS: tuple[AppProfile, ...] = (
    AppProfile(
        key="go-api",
        main=ContainerProfile(
            name="{app}",
            image="ghcr.io/acme/{app}",
            tags=("v1.4.2", "v1.5.0", "v2.0.1", "v2.3.0"),
            ports=(("http", 8080, "TCP"), ("metrics", 9090, "TCP")),
            probe="http:/healthz:8080",
            cpu=("100m", "250m", "500m"),
            memory=("128Mi", "256Mi", "512Mi"),
            env=(
                EnvVar(name="LOG_LEVEL", value="info"),
                EnvVar(name="DATABASE_URL", source="secret", value="{app}-db:url"),
            ),
            mounts=(("config", "/etc/{app}"),),
        ),
        sidecars=(SQL_PROXY,),
        init=(MIGRATE, WAIT_FOR_DB),
        init_chance=0.3,
    ),
    AppProfile(
        key="jvm",
        main=ContainerProfile(
            name="{app}",
            image="registry.example.com/platform/{app}",
            tags=("3.2.5", "3.3.0", "4.0.0-rc1"),
            ports=(("http", 8080, "TCP"), ("management", 8081, "TCP")),
            probe="http:/actuator/health/liveness:8081",
            cpu=("250m", "500m", "1"),
            memory=("768Mi", "1Gi", "2Gi"),
            env=(
                EnvVar(name="JAVA_TOOL_OPTIONS", value="-XX:MaxRAMPercentage=75.0"),
                EnvVar(name="SPRING_PROFILES_ACTIVE", value="kubernetes"),
                EnvVar(
                    name="SPRING_CONFIG_IMPORT", source="configmap", value="{app}-config:import"
                ),
            ),
            mounts=(("config", "/config"), ("tmp", "/tmp")),  # noqa: S108 - a mount path in a pod
        ),
        sidecars=(SQL_PROXY,),
    ),
    AppProfile(
        key="python-worker",
        main=ContainerProfile(
            name="worker",
            image="ghcr.io/acme/{app}",
            tags=("2024.06.1", "2024.07.3", "2024.09.0"),
            probe="exec:celery -A {app} inspect ping",
            cpu=("100m", "200m"),
            memory=("256Mi", "512Mi"),
            env=(
                EnvVar(name="CELERY_BROKER_URL", source="secret", value="{app}-broker:url"),
                EnvVar(name="CONCURRENCY", value="4"),
            ),
            command=("celery",),
            args=("-A", "{app}", "worker"),
        ),
        init=(WAIT_FOR_DB,),
        init_chance=0.3,
    ),
    AppProfile(
        key="node-web",
        main=ContainerProfile(
            name="web",
            image="ghcr.io/acme/{app}-web",
            tags=("1.12.0", "1.13.2", "2.0.0"),
            ports=(("http", 3000, "TCP"),),
            probe="http:/api/health:3000",
            cpu=("50m", "100m"),
            memory=("128Mi", "256Mi"),
            env=(
                EnvVar(name="NODE_ENV", value="production"),
                EnvVar(name="API_BASE_URL", value="http://{app}.{ns}.svc.cluster.local:8080"),
            ),
        ),
        sidecars=(SQL_PROXY,),
        sidecar_chance=0.2,
    ),
    AppProfile(
        key="nginx",
        main=ContainerProfile(
            name="nginx",
            image="docker.io/library/nginx",
            tags=("1.25.4", "1.26.1", "1.27.0-alpine"),
            ports=(("http", 80, "TCP"),),
            probe="http:/:80",
            cpu=("50m", "100m"),
            memory=("64Mi", "128Mi"),
            mounts=(("config", "/etc/nginx/conf.d"), ("cache", "/var/cache/nginx")),
        ),
    ),
)

STATEFUL_APPS: tuple[AppProfile, ...] = (
    AppProfile(
        key="redis",
        main=ContainerProfile(
            name="redis",
            image="docker.io/library/redis",
            tags=("7.2.4", "7.2.5-alpine"),
            ports=(("redis", 6379, "TCP"),),
            probe="tcp:6379",
            cpu=("100m", "250m"),
            memory=("256Mi", "1Gi"),
            args=("--appendonly", "yes"),
            mounts=(("data", "/data"),),
        ),
    ),
    AppProfile(
        key="postgres",
        main=ContainerProfile(
            name="postgres",
            image="docker.io/library/postgres",
            tags=("15.7", "16.3"),
            ports=(("postgres", 5432, "TCP"),),
            probe="exec:pg_isready -U postgres",
            cpu=("250m", "500m", "1"),
            memory=("512Mi", "1Gi", "4Gi"),
            env=(
                EnvVar(name="POSTGRES_PASSWORD", source="secret", value="{app}-db:password"),
                EnvVar(name="PGDATA", value="/var/lib/postgresql/data/pgdata"),
            ),
            mounts=(("data", "/var/lib/postgresql/data"),),
        ),
    ),
    AppProfile(
        key="rabbitmq",
        main=ContainerProfile(
            name="rabbitmq",
            image="docker.io/library/rabbitmq",
            tags=("3.13.3-management",),
            ports=(("amqp", 5672, "TCP"), ("management", 15672, "TCP")),
            probe="exec:rabbitmq-diagnostics -q ping",
            cpu=("250m", "500m"),
            memory=("512Mi", "1Gi"),
            env=(EnvVar(name="RABBITMQ_DEFAULT_USER", value="{app}"),),
            mounts=(("data", "/var/lib/rabbitmq"),),
        ),
    ),
)

BATCH_APPS: tuple[AppProfile, ...] = (
    AppProfile(
        key="report",
        main=ContainerProfile(
            name="job",
            image="ghcr.io/acme/{app}-jobs",
            tags=("2024.09.0", "2024.10.2"),
            cpu=("250m", "500m"),
            memory=("256Mi", "1Gi"),
            env=(EnvVar(name="DATABASE_URL", source="secret", value="{app}-db:url"),),
            command=("python", "-m", "jobs.run"),
            args=("--task", "{app}"),
        ),
    ),
    AppProfile(
        key="backup",
        main=ContainerProfile(
            name="backup",
            image="docker.io/library/postgres",
            tags=("16.3",),
            cpu=("100m",),
            memory=("128Mi",),
            env=(EnvVar(name="PGPASSWORD", source="secret", value="{app}-db:password"),),
            command=("sh", "-c", "pg_dump -h {app}-db -U postgres | gzip > /backup/dump.sql.gz"),
            mounts=(("backup", "/backup"),),
        ),
    ),
)

NODE_AGENTS: tuple[tuple[str, str, AppProfile], ...] = (
    (
        "kube-system",
        "kube-proxy",
        AppProfile(
            key="kube-proxy",
            main=ContainerProfile(
                name="kube-proxy",
                image="registry.k8s.io/kube-proxy",
                tags=("v1.30.2",),
                cpu=("100m",),
                memory=("64Mi",),
                env=(EnvVar(name="NODE_NAME", source="field", value="spec.nodeName"),),
                command=(
                    "/usr/local/bin/kube-proxy",
                    "--config=/var/lib/kube-proxy/config.conf",
                    "--hostname-override=$(NODE_NAME)",
                ),
                mounts=(("kube-proxy", "/var/lib/kube-proxy"), ("lib-modules", "/lib/modules")),
            ),
        ),
    ),
    (
        "monitoring",
        "node-exporter",
        AppProfile(
            key="node-exporter",
            main=ContainerProfile(
                name="node-exporter",
                image="quay.io/prometheus/node-exporter",
                tags=("v1.8.1",),
                ports=(("metrics", 9100, "TCP"),),
                probe="http:/:9100",
                cpu=("50m",),
                memory=("64Mi",),
                args=("--path.rootfs=/host/root", "--web.listen-address=0.0.0.0:9100"),
                mounts=(("root", "/host/root"),),
            ),
        ),
    ),
    (
        "logging",
        "fluent-bit",
        AppProfile(
            key="fluent-bit",
            main=ContainerProfile(
                name="fluent-bit",
                image="cr.fluentbit.io/fluent/fluent-bit",
                tags=("3.0.7",),
                ports=(("http", 2020, "TCP"),),
                probe="http:/api/v1/health:2020",
                cpu=("50m", "100m"),
                memory=("64Mi", "128Mi"),
                mounts=(("varlog", "/var/log"), ("config", "/fluent-bit/etc")),
            ),
        ),
    ),
)
"""(namespace, DaemonSet name, profile) of the node agents, in the order populate adds them."""

COREDNS = AppProfile(
    key="coredns",
    main=ContainerProfile(
        name="coredns",
        image="registry.k8s.io/coredns/coredns",
        tags=("v1.11.1",),
        ports=(("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")),
        probe="http:/health:8080",
        cpu=("100m",),
        memory=("70Mi",),
        args=("-conf", "/etc/coredns/Corefile"),
        mounts=(("config-volume", "/etc/coredns"),),
    ),
)

APP_NAMES = (
    "checkout", "cart", "payments", "orders", "inventory", "search", "auth", "users",
    "notifications", "billing", "catalog", "recommendations", "gateway", "reports", "shipping",
    "ledger", "profile", "media", "analytics", "pricing", "reviews", "loyalty", "fraud", "quotes",
)  # fmt: skip
APP_ROLES = ("", "-api", "-worker", "-web", "-sync", "-consumer", "-admin")
TEAM_NAMES = (
    "payments", "storefront", "platform", "data", "identity", "logistics", "growth", "risk",
    "search", "mobile", "finance", "ml",
)  # fmt: skip
ENVIRONMENTS = ("prod", "staging", "dev", "qa", "sandbox")
BATCH_TASKS = ("nightly-report", "cleanup", "db-backup", "sync-catalog", "rollup", "reindex")
NODE_POOLS = ("general", "compute", "memory", "spot")
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
INSTANCE_TYPES = (
    ("m6i.2xlarge", 8, 32),
    ("m6i.4xlarge", 16, 64),
    ("c6i.4xlarge", 16, 32),
    ("r6i.2xlarge", 8, 64),
)
"""(instance type, vCPUs, memory GiB) of the worker pools."""
STORAGE_CLASSES = ("gp3", "gp2", "standard-rwo")

CONTROL_PLANE: tuple[ContainerProfile, ...] = (
    ContainerProfile(
        name="etcd",
        image="registry.k8s.io/etcd",
        tags=("3.5.12-0",),
        cpu=("100m",),
        memory=("100Mi",),
        command=(
            "etcd",
            "--advertise-client-urls=https://$(NODE_IP):2379",
            "--data-dir=/var/lib/etcd",
            "--snapshot-count=10000",
        ),
        probe="http:/health?exclude=NOSPACE&serializable=true:2381",
        mounts=(("etcd-data", "/var/lib/etcd"), ("etcd-certs", "/etc/kubernetes/pki/etcd")),
    ),
    ContainerProfile(
        name="kube-apiserver",
        image="registry.k8s.io/kube-apiserver",
        tags=("v1.30.2",),
        cpu=("250m",),
        memory=("512Mi",),
        command=(
            "kube-apiserver",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--etcd-servers=https://127.0.0.1:2379",
            "--service-cluster-ip-range=10.96.0.0/12",
        ),
        probe="http:/livez:6443",
        mounts=(("k8s-certs", "/etc/kubernetes/pki"),),
    ),
    ContainerProfile(
        name="kube-controller-manager",
        image="registry.k8s.io/kube-controller-manager",
        tags=("v1.30.2",),
        cpu=("200m",),
        memory=("128Mi",),
        command=(
            "kube-controller-manager",
            "--allocate-node-cidrs=true",
            "--cluster-cidr=10.128.0.0/9",
            "--leader-elect=true",
        ),
        probe="http:/healthz:10257",
        mounts=(("k8s-certs", "/etc/kubernetes/pki"),),
    ),
    ContainerProfile(
        name="kube-scheduler",
        image="registry.k8s.io/kube-scheduler",
        tags=("v1.30.2",),
        cpu=("100m",),
        memory=("64Mi",),
        command=("kube-scheduler", "--leader-elect=true"),
        probe="http:/healthz:10259",
        mounts=(("kubeconfig", "/etc/kubernetes/scheduler.conf"),),
    ),
)
"""The static pods kubelet runs on each control-plane node (mirrored to the API, owned by it)."""

SCHEDULES = (
    ("*/5 * * * *", 5),
    ("*/15 * * * *", 15),
    ("0 * * * *", 60),
    ("0 */6 * * *", 360),
    ("30 2 * * *", 1440),
)
"""(cron schedule, minutes between runs) of CronJobs."""
