# syntax=docker/dockerfile:1
#
# MinIO for the compose deployment, built from source at the commit Parley's
# storage contract suite runs against (scripts/services.sh pins the same
# version; the deploy test checks they agree). MinIO no longer publishes
# community images, and building it means no downloaded binary to trust.
#
# Like Parley's image: static, distroless, non-root. /healthcheck (Parley's
# probe, deploy/healthcheck) answers compose's healthcheck.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
ARG MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOBIN=/out go install -trimpath github.com/minio/minio@${MINIO_VERSION}
WORKDIR /src
COPY go.mod go.sum ./
COPY deploy/healthcheck ./deploy/healthcheck
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -o /out/healthcheck ./deploy/healthcheck && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/minio /minio
COPY --from=build /out/healthcheck /healthcheck
# A named volume mounted here starts with this directory's owner.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
EXPOSE 9000
ENTRYPOINT ["/minio"]
CMD ["server", "/data", "--address", ":9000", "--quiet"]
