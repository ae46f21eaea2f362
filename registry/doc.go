// Package registry is the one registry client of the exporter and the
// commands: every read and write of an export, a carry, a discovery, an
// ownership check, a rebase and a reattach goes through a Client. Per
// registry a Client holds one authenticated transport (one token, one
// connection pool: go-containerregistry's transport.NewWithContext does the
// ping and the token exchange), and applies, to every request at every
// size:
//
//   - one retry policy (retry.go: 5 attempts, 200 ms doubling, at most 5 s
//     per wait and 30 s in all; network errors, 408, 429 and every 5xx;
//     Retry-After honoured for 429 and 503). Blob uploads are the client's
//     own (one request up to SmallBlob, else POST, PATCH, PUT), so a
//     retried upload reopens the blob; go-containerregistry's pusher and
//     its separate retry are not used;
//   - one stall deadline (stall.go): a request fails once it goes the
//     timeout without a byte moving, and that failure is retried;
//   - one insecure rule (insecure.go), imgutil's: a name listed in
//     CNB_INSECURE_REGISTRIES (as a prefix) is parsed with name.Insecure
//     and reached without TLS verification, for an IP, localhost or a host
//     name alike;
//   - one referrers rule (referrers.go): the API's own answer, else the
//     fallback tag; a read that cannot tell is ErrReferrersUnknown, never an
//     empty list.
//
// Operations take a context first: Dial (ping and token), Head (digest,
// media type, size), Get (bounded), PutManifest, ListTags
// (ErrTagListDenied on 401/403), ProbeReferrersAPI, FallbackIndex,
// Referrers, BlobExists, UploadBlob (mounts a Mountable within the
// registry), ReadBlob, Blob, Image.
//
// # Registry quirks (docs/spec.md 6.1)
//
// What registries users push to do, what the client does about it, and
// where acceptance/faultproxy emulates it (faultproxy.Quirks, run by
// acceptance/quirks_test.go's TestRegistryQuirks and
// TestReattachFailsWhenTheFallbackTagIsTheSubject):
//
//	registry            quirk                                         the client                                          emulation
//	GitLab              400 MANIFEST_INVALID for unlisted types       the registry's error, not retried (permanent 4xx)    Quirks.AllowedTypes
//	GitLab              subject must exist before its referrer        (the transaction writes the app manifest first)      Quirks.SubjectMustExist
//	GitLab              sha256-<hex> tag resolves to the subject      NoFallbackIndexError{IsSubject}: writes treat the    Quirks.FallbackTagIsSubject
//	                                                                  tag as absent; reads fail, ErrReferrersUnknown
//	Quay 3.12+          referrers API without the OCI-Subject header  the API is asked, the header is not trusted          Quirks.NoSubjectHeader
//	Artifactory <7.90.1 referrers endpoint answers 406                no API: the fallback index                           Quirks.Referrers = Referrers406
//	Artifact Registry   referrers endpoint redirects to an HTML page  a 200 that is not an OCI index: no API               Quirks.Referrers = ReferrersRedirectHTML
//	any                 referrers endpoint hangs                      the stall deadline, retried; then writes use the     Quirks.Referrers = ReferrersHang
//	                                                                  fallback index and reads fail (ErrReferrersUnknown)
//	least privilege     tag listing refused (401, 403)                ErrTagListDenied; the ownership check HEADs each tag Quirks.TagListDenied
//	Docker Hub          GETs of manifests count as pulls              reads that need a digest use HEAD (Head)             (unit: TestCheckTagOwnershipHeadSettles)
package registry
