# moodgate gateway image: a static binary on a distroless base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/moodgate ./cmd/moodgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/moodgate /moodgate
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/moodgate"]
CMD ["serve"]
