//! Images: build (from a profile's embedded context or a directory), multi-image export to one
//! `.tar`/`.tar.gz`, import, inspect and remove.
//!
//! Everything streams: the build context and the archive being imported are fed to the engine
//! chunk by chunk, and an export is written to disk as it arrives, so memory stays bounded (a few
//! hundred KiB) whatever the image size.
//!
//! * **Build** sends the context to `POST /build` as a chunked body and hands every progress line
//!   to the caller as it arrives. Both engines report a failed step *inside* a `200` stream;
//!   it becomes [`Error::StreamFailed`] with the engine's message (the reference printed
//!   "Built" instead).
//! * **Export** is one `GET /images/get?names=a&names=b`: every image lands in the same archive
//!   (the reference overwrote its file once per image). The bytes go to a hidden
//!   temporary file beside the destination, gzip-compressed if asked; the archive is checked
//!   (complete tar, every layer named by `manifest.json` present), synced and only then renamed
//!   into place, so a failed export never leaves a partial file under the final name.
//! * **Import** detects gzip by content, not by name, decompresses on the fly and checks the
//!   archive while streaming it to `POST /images/load`. The end of the request body is sent only
//!   once the whole archive was verified; a corrupt or truncated file makes pocketdock drop the
//!   connection mid-body instead, and the engine discards the upload. Checked on Podman 4.3 (it
//!   copies the body to a temporary file before loading) and Docker 20.10 (it untars the body
//!   into a temporary directory first): neither loads anything from an aborted body. Without
//!   this check both engines already refuse an archive cut inside an entry (Podman with HTTP 500
//!   "payload does not match any of the supported image formats", Docker with an in-stream
//!   "unexpected EOF"), also when `manifest.json` comes first and the cut falls in a later
//!   image's layer, so no half-load was seen; but both accept an archive cut exactly before its
//!   end-of-archive marker (harmless: its content is complete).
//!
//! A directory context is sent as it is: `.dockerignore` is not applied.

use std::path::Path;

use pocketdock_proto::api::images::{self, BuildOptions, DeleteItem, ImageInspect, Progress};
use pocketdock_proto::http::Response;
use pocketdock_proto::image_flow::{profile_build, BuildOp, ExportOp, ImportOp};
use pocketdock_proto::op::{CallOp, Operation};
#[cfg(doc)]
use pocketdock_proto::Error;
use pocketdock_proto::Result;

use pocketdock_host::context::{ArchiveSource, BuildFeed, ExportTarget};

use crate::driver::{Driver, Progress as Step};
use crate::engine::Engine;
use crate::runtime::Runtime;

use pocketdock_proto::image_flow::{BuildContext, BuiltImage, ExportedArchive};

impl<R: Runtime> Engine<R> {
    /// Build an image from `context` with `options` (tags, build args such as `BASE`, labels,
    /// ...), handing every progress line to `on_progress` as it arrives. An error reported in the
    /// progress stream (a failing `RUN`, a missing base image) is [`Error::StreamFailed`] with
    /// the engine's message. Base images are never pulled unless `options.pull` is set.
    ///
    /// When Podman loses a layer to an image removed at the same time (a known engine race, see
    /// [`pocketdock_proto::build_retry`]), the build runs again, up to
    /// [`BUILD_ATTEMPTS`](pocketdock_proto::build_retry::BUILD_ATTEMPTS) times in all, after a
    /// note to `on_progress`.
    pub async fn build_image(
        &self,
        context: &BuildContext,
        options: &BuildOptions,
        mut on_progress: impl FnMut(&Progress) + Send,
    ) -> Result<BuiltImage> {
        let mut feed = BuildFeed::new(context, options.dockerfile.as_deref());
        self.drive_fed(BuildOp::new(options)?, |e, op| {
            feed.handle(e, op, &mut on_progress);
        })
        .await
    }

    /// Build profile `profile` (its embedded context) as its image tag
    /// (`pocketdock/<profile>`), labelled `pocketdock.profile=<profile>`; `base` overrides the
    /// Dockerfile's `BASE` argument (e.g. a local image when offline).
    pub async fn build_profile(
        &self,
        profile: &str,
        base: Option<&str>,
        on_progress: impl FnMut(&Progress) + Send,
    ) -> Result<BuiltImage> {
        let (context, options) = profile_build(profile, base)?;
        self.build_image(&context, &options, on_progress).await
    }

    /// Save `images` (names or ids; repeats are dropped) into one archive at `dest`, gzip
    /// compressed when `gzip` is set. The archive streams to a temporary file beside `dest`
    /// and replaces `dest` only once it is complete and checked.
    pub async fn export_images<S: AsRef<str>>(
        &self,
        images: &[S],
        dest: impl AsRef<Path>,
        gzip: bool,
    ) -> Result<ExportedArchive> {
        self.export_images_with(images, dest, gzip, |_| {}).await
    }

    /// [`export_images`](Self::export_images), telling `on_progress` the bytes written to the
    /// archive file so far after every piece.
    pub async fn export_images_with<S: AsRef<str>>(
        &self,
        images: &[S],
        dest: impl AsRef<Path>,
        gzip: bool,
        on_progress: impl FnMut(u64) + Send,
    ) -> Result<ExportedArchive> {
        let op = ExportOp::new(images)?;
        let mut target = ExportTarget::new(dest.as_ref(), gzip, on_progress);
        let result = self.drive_fed(op, |e, op| target.handle(e, op)).await;
        target.finish(result)
    }

    /// Load every image of the archive at `path` (a `.tar` or gzip-compressed tar, detected by
    /// content) and return the references the engine reports loaded (image ids for untagged
    /// images). A corrupt, truncated or foreign file is [`Error::Archive`] and the engine is left
    /// as it was (see the module documentation).
    pub async fn import_images(&self, path: impl AsRef<Path>) -> Result<Vec<String>> {
        self.import_images_with(path, |_| {}).await
    }

    /// [`import_images`](Self::import_images), telling `on_progress` the bytes of the archive
    /// file read so far after every piece (against the file's size for a progress bar).
    pub async fn import_images_with(
        &self,
        path: impl AsRef<Path>,
        on_progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<Vec<String>> {
        let mut source = ArchiveSource::open(path.as_ref())?.on_progress(on_progress);
        self.drive_fed(ImportOp::new(), |e, op| source.handle(e, op))
            .await
    }

    /// `GET /images/{name}/json`; a missing image is [`Error::ImageNotFound`].
    pub async fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        let key = name.to_string();
        self.call(CallOp::new(
            "inspect image",
            &images::inspect(name),
            move |r: Response| images::parse_inspect(&r, &key),
        ))
        .await
    }

    /// Remove image `name` (`force`: also when containers use it or it has several tags);
    /// untagged parents are pruned. A missing image is [`Error::ImageNotFound`].
    pub async fn remove_image(&self, name: &str, force: bool) -> Result<Vec<DeleteItem>> {
        let key = name.to_string();
        self.call(CallOp::new(
            "remove image",
            &images::remove(name, force, true),
            move |r: Response| images::parse_remove(&r, &key),
        ))
        .await
    }

    /// Drive a flow whose events need host work: `handle` does it and, when it fails, fails the
    /// flow through the operation it is given.
    pub(crate) async fn drive_fed<O: Operation>(
        &self,
        op: O,
        mut handle: impl FnMut(O::Event, &mut O),
    ) -> Result<O::Output> {
        let mut drv = Driver::<_, R>::new(op, self.endpoint());
        loop {
            match drv.advance().await {
                Step::Event(e) => handle(e, drv.op_mut()),
                Step::Done(r) => return r,
            }
        }
    }
}
