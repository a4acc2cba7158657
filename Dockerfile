# syntax=docker/dockerfile:1
# tagwatch container image: a static binary on distroless, as a non-root user.
#   make image                      (passes VERSION and COMMIT)
#   docker build --build-arg VERSION=v1.0.0 --build-arg COMMIT=$(git rev-parse HEAD) -t tagwatch .

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/tagwatch ./cmd/tagwatch

# distroless static: CA certificates, /etc/passwd with the nonroot user
# (uid 65532), no shell, no package manager. git is not needed (go-git).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tagwatch /usr/local/bin/tagwatch
USER 65532:65532
# The default --cache-dir is $HOME/.cache/tagwatch (/home/nonroot/.cache/tagwatch);
# mount a volume there, or pass --cache-dir.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tagwatch"]
CMD ["--help"]
