//! The default model client: a deterministic painter that turns a prompt and seed into a
//! landscape (sky gradient, sun or moon with a glow, stars at night, layered mountain ridges
//! fading into haze). No network, no weights; the same request always yields the same PNG bytes,
//! and different prompts get different palettes and compositions.
//!
//! Only IEEE-exact float operations (+, -, *, /, sqrt, floor) are used, never `sin`/`exp`/`powf`
//! whose results vary between math libraries, so the pixels do not depend on the platform.

use sha2::{Digest, Sha256};

use super::{GeneratedImage, ImageOptions, ModelClient, ModelError};

/// Model name of the stub; bump the version whenever the drawing changes, because it is part of
/// every image key.
pub const STUB_MODEL_NAME: &str = "stub-v1";

/// The deterministic painter.
#[derive(Debug, Clone, Copy, Default)]
pub struct StubModel;

impl ModelClient for StubModel {
    fn model_name(&self) -> &str {
        STUB_MODEL_NAME
    }

    async fn generate(
        &self,
        prompt: &str,
        options: ImageOptions,
    ) -> Result<GeneratedImage, ModelError> {
        Ok(GeneratedImage {
            bytes: render_png(prompt, options)?,
            content_type: "image/png".to_owned(),
            model: STUB_MODEL_NAME.to_owned(),
        })
    }
}

/// Paints the scene for `prompt` and encodes it as an 8-bit RGB PNG. The prompt is also stored
/// in the PNG's `Description` text chunk.
pub fn render_png(prompt: &str, options: ImageOptions) -> Result<Vec<u8>, ModelError> {
    let pixels = render_rgb(prompt, options);
    let encode_error = |e: png::EncodingError| ModelError::Encode {
        model: STUB_MODEL_NAME.to_owned(),
        width: options.width,
        height: options.height,
        message: e.to_string(),
    };
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, options.width, options.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Fast (fdeflate) compresses smooth gradients well and keeps a 1024x1024 render quick.
    encoder.set_compression(png::Compression::Fast);
    encoder
        .add_itxt_chunk("Description".to_owned(), prompt.to_owned())
        .map_err(encode_error)?;
    encoder
        .add_text_chunk(
            "Software".to_owned(),
            format!(
                "lsk image-generator {STUB_MODEL_NAME} (seed {})",
                options.seed
            ),
        )
        .map_err(encode_error)?;
    let mut writer = encoder.write_header().map_err(encode_error)?;
    writer.write_image_data(&pixels).map_err(encode_error)?;
    writer.finish().map_err(encode_error)?;
    Ok(out)
}

/// Paints the scene as row-major RGB bytes (`width * height * 3`).
pub fn render_rgb(prompt: &str, options: ImageOptions) -> Vec<u8> {
    let scene = Scene::compose(prompt, options.seed);
    let (width, height) = (options.width as usize, options.height as usize);
    let (w, h) = (f64::from(options.width), f64::from(options.height));
    let short_side = w.min(h);

    // Ridge lines depend only on the column, so compute them once per layer.
    let ridges: Vec<Vec<f64>> = scene
        .layers
        .iter()
        .map(|layer| {
            (0..width)
                .map(|x| layer.ridge_at((x as f64 + 0.5) / w))
                .collect()
        })
        .collect();

    let sun_x = scene.sun.x * w;
    let sun_y = scene.sun.y * h;
    let sun_r = scene.sun.radius * short_side;

    let mut pixels = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        let v = (y as f64 + 0.5) / h;
        let sky_row = scene.sky_at(v);
        for x in 0..width {
            // Nearest layer first: the first ridge the pixel is below hides everything behind.
            let covering = scene
                .layers
                .iter()
                .zip(&ridges)
                .rev()
                .find(|(_, ridge)| v >= ridge[x]);
            let colour = match covering {
                Some((layer, _)) => layer.shade(v),
                None => {
                    let (dx, dy) = (x as f64 + 0.5 - sun_x, y as f64 + 0.5 - sun_y);
                    let distance = (dx * dx + dy * dy).sqrt();
                    let mut colour = sky_row;
                    if scene.stars && star_at(scene.star_seed, x, y, short_side) {
                        colour = colour.mix(Rgb::WHITE, 0.85 * (1.0 - v / scene.horizon).max(0.0));
                    }
                    // A soft halo that falls off with the square of the distance.
                    let falloff = sun_r / distance.max(1.0);
                    let glow = (scene.sun.glow * falloff * falloff).min(1.0);
                    colour = colour.mix(scene.sun.colour, glow);
                    // Anti-aliased disc edge: coverage ramps over one pixel.
                    let coverage = (sun_r - distance + 0.5).clamp(0.0, 1.0);
                    colour.mix(scene.sun.colour, coverage)
                }
            };
            pixels.extend_from_slice(&colour.to_bytes());
        }
    }
    pixels
}

/// A colour with channels in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rgb {
    r: f64,
    g: f64,
    b: f64,
}

impl Rgb {
    const WHITE: Rgb = Rgb {
        r: 1.0,
        g: 1.0,
        b: 1.0,
    };

    /// From hue (degrees, any value), saturation and lightness (`0..=1`).
    fn hsl(hue: f64, saturation: f64, lightness: f64) -> Rgb {
        let hue = hue - 360.0 * (hue / 360.0).floor();
        let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
        let sector = hue / 60.0;
        let second = chroma * (1.0 - (sector - 2.0 * (sector / 2.0).floor() - 1.0).abs());
        let (r, g, b) = match sector as u32 {
            0 => (chroma, second, 0.0),
            1 => (second, chroma, 0.0),
            2 => (0.0, chroma, second),
            3 => (0.0, second, chroma),
            4 => (second, 0.0, chroma),
            _ => (chroma, 0.0, second),
        };
        let m = lightness - chroma / 2.0;
        Rgb {
            r: r + m,
            g: g + m,
            b: b + m,
        }
    }

    fn mix(self, other: Rgb, t: f64) -> Rgb {
        Rgb {
            r: self.r + (other.r - self.r) * t,
            g: self.g + (other.g - self.g) * t,
            b: self.b + (other.b - self.b) * t,
        }
    }

    fn scale(self, factor: f64) -> Rgb {
        Rgb {
            r: self.r * factor,
            g: self.g * factor,
            b: self.b * factor,
        }
    }

    fn to_bytes(self) -> [u8; 3] {
        let byte = |c: f64| (c.clamp(0.0, 1.0) * 255.0).round() as u8;
        [byte(self.r), byte(self.g), byte(self.b)]
    }
}

/// SplitMix64: a tiny, fully specified generator. A crate RNG could change its output between
/// versions, which would silently change every stub image; this cannot.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * unit
    }
}

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Sun {
    /// Centre, as fractions of width and height.
    x: f64,
    y: f64,
    /// Radius as a fraction of the shorter side.
    radius: f64,
    colour: Rgb,
    glow: f64,
}

/// One mountain range: a ridge line made of value noise, filled below with a shaded colour.
struct Layer {
    /// Height (fraction of the image, from the top) the ridge undulates around.
    base: f64,
    amplitude: f64,
    /// Horizontal size of the largest hills, as a fraction of the width.
    wavelength: f64,
    noise_seed: u64,
    /// Sharp peaks (distant mountains) rather than rolling hills.
    peaked: bool,
    colour: Rgb,
}

impl Layer {
    /// The ridge's height at `u` (fraction of the width), as a fraction from the top.
    fn ridge_at(&self, u: f64) -> f64 {
        let mut total = 0.0;
        let mut weight = 1.0;
        let mut norm = 0.0;
        let mut frequency = 1.0 / self.wavelength;
        for octave in 0..4u64 {
            total += weight * value_noise(self.noise_seed ^ octave, u * frequency);
            norm += weight;
            weight *= 0.5;
            frequency *= 2.0;
        }
        let height = if self.peaked {
            // Folding the noise around its middle turns smooth hills into sharp peaks.
            1.0 - (2.0 * (total / norm) - 1.0).abs()
        } else {
            // Stretch the noise away from its mean: averaged octaves are otherwise too flat.
            (0.5 + (total / norm - 0.5) * 1.8).clamp(0.0, 1.0)
        };
        self.base - self.amplitude * height
    }

    /// Colour at height `v`: darker further down, which reads as volume. Measured from the
    /// highest possible peak rather than the local ridge, so it does not streak below peaks.
    fn shade(&self, v: f64) -> Rgb {
        let t = ((v - (self.base - self.amplitude)) / 0.4).clamp(0.0, 1.0);
        self.colour.mix(self.colour.scale(0.7), t)
    }
}

/// Smooth 1-D noise in `0..1`: random values at integer points, eased in between.
fn value_noise(seed: u64, t: f64) -> f64 {
    let cell = t.floor();
    let frac = t - cell;
    let lattice = |i: f64| {
        let index = i as i64 as u64;
        (mix64(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let ease = frac * frac * (3.0 - 2.0 * frac);
    let (a, b) = (lattice(cell), lattice(cell + 1.0));
    a + (b - a) * ease
}

/// Whether a star sits at pixel `(x, y)`: about one pixel in 700, independent of other pixels.
fn star_at(seed: u64, x: usize, y: usize, short_side: f64) -> bool {
    let cell = mix64(seed ^ ((x as u64) << 32 | y as u64));
    // Fewer stars on small images so they do not turn into noise.
    let per_thousand = if short_side < 256.0 { 1 } else { 2 };
    cell % 1000 < per_thousand
}

struct Scene {
    sky_top: Rgb,
    sky_horizon: Rgb,
    /// Where the sky gradient ends, as a fraction from the top.
    horizon: f64,
    sun: Sun,
    stars: bool,
    star_seed: u64,
    /// Far to near.
    layers: Vec<Layer>,
}

impl Scene {
    /// Chooses palette and composition from the prompt and seed.
    fn compose(prompt: &str, seed: u64) -> Scene {
        let mut hasher = Sha256::new();
        hasher.update(STUB_MODEL_NAME.as_bytes());
        hasher.update(seed.to_le_bytes());
        hasher.update(prompt.as_bytes());
        let digest = hasher.finalize();
        let mut state = [0u8; 8];
        state.copy_from_slice(&digest[..8]);
        let mut rng = SplitMix64(u64::from_le_bytes(state));

        // Skip the yellow-green band (70..160 degrees), which makes sickly skies.
        let hue = rng.range(0.0, 270.0);
        let hue = if hue >= 70.0 { hue + 90.0 } else { hue };
        let top_lightness = rng.range(0.1, 0.55);
        let night = top_lightness < 0.25;
        let sky_top = Rgb::hsl(hue, rng.range(0.35, 0.7), top_lightness);
        let sky_horizon = Rgb::hsl(
            hue + rng.range(25.0, 70.0),
            rng.range(0.55, 0.85),
            rng.range(0.68, 0.86),
        );
        let horizon = rng.range(0.5, 0.7);

        let sun = Sun {
            x: rng.range(0.15, 0.85),
            y: rng.range(0.15, horizon - 0.1),
            radius: if night {
                rng.range(0.04, 0.07)
            } else {
                rng.range(0.06, 0.12)
            },
            colour: if night {
                Rgb::hsl(hue + 180.0, 0.25, 0.9)
            } else {
                Rgb::hsl(hue + rng.range(-20.0, 40.0), 0.9, 0.78)
            },
            glow: if night { 0.25 } else { rng.range(0.35, 0.6) },
        };

        // Mountains take a hue across the wheel from the sky so they stand out against it.
        let land_hue = hue + 180.0 + rng.range(-45.0, 45.0);
        let land_saturation = rng.range(0.25, 0.55);
        let count = 3 + (rng.next_u64() % 3) as usize;
        let layers = (0..count)
            .map(|i| {
                let depth = i as f64 / (count - 1) as f64; // 0 = farthest, 1 = nearest
                let base = horizon + depth * (0.95 - horizon);
                let colour = Rgb::hsl(
                    land_hue + rng.range(-15.0, 15.0),
                    land_saturation,
                    0.5 - 0.35 * depth,
                )
                // Aerial perspective: distant ranges take on the colour of the horizon.
                .mix(sky_horizon, 0.55 * (1.0 - depth));
                Layer {
                    base,
                    amplitude: rng.range(0.12, 0.3) * (0.6 + 0.4 * (1.0 - depth)),
                    wavelength: rng.range(0.25, 0.7),
                    noise_seed: rng.next_u64(),
                    peaked: i == 0,
                    colour,
                }
            })
            .collect();

        Scene {
            sky_top,
            sky_horizon,
            horizon,
            sun,
            stars: night,
            star_seed: rng.next_u64(),
            layers,
        }
    }

    /// Sky colour at height `v`: a gradient from the top down to the horizon, eased so the
    /// bright band hugs the horizon.
    fn sky_at(&self, v: f64) -> Rgb {
        let t = (v / self.horizon).clamp(0.0, 1.0);
        self.sky_top.mix(self.sky_horizon, t * t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(width: u32, height: u32, seed: u64) -> ImageOptions {
        ImageOptions {
            width,
            height,
            seed,
        }
    }

    /// Decodes a PNG back into (width, height, RGB bytes).
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("valid PNG header");
        let mut buffer = vec![0; reader.output_buffer_size().expect("sane size")];
        let info = reader.next_frame(&mut buffer).expect("valid PNG data");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buffer.truncate(info.buffer_size());
        (info.width, info.height, buffer)
    }

    /// Mean absolute difference per channel, 0..=255.
    fn mean_difference(a: &[u8], b: &[u8]) -> f64 {
        assert_eq!(a.len(), b.len());
        let total: u64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        total as f64 / a.len() as f64
    }

    #[test]
    fn same_request_same_bytes() {
        let a = render_png("a lighthouse at dusk", options(128, 96, 7)).unwrap();
        let b = render_png("a lighthouse at dusk", options(128, 96, 7)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn output_is_a_valid_png_of_the_requested_size() {
        for (width, height) in [(64, 64), (512, 512), (1024, 64), (64, 1024)] {
            let bytes = render_png("a red fox", options(width, height, 0)).unwrap();
            let (w, h, pixels) = decode(&bytes);
            assert_eq!((w, h), (width, height));
            assert_eq!(pixels.len(), (width * height * 3) as usize);
        }
    }

    #[test]
    fn different_prompts_look_different() {
        let prompts = ["a red fox", "a blue whale", "snow on mount fuji", "🦊"];
        let images: Vec<_> = prompts
            .iter()
            .map(|p| decode(&render_png(p, options(128, 128, 0)).unwrap()).2)
            .collect();
        for i in 0..images.len() {
            for j in i + 1..images.len() {
                let difference = mean_difference(&images[i], &images[j]);
                assert!(
                    difference > 12.0,
                    "{:?} vs {:?} differ by only {difference:.1}/255 on average",
                    prompts[i],
                    prompts[j]
                );
            }
        }
    }

    #[test]
    fn the_seed_changes_the_picture() {
        let a = decode(&render_png("a red fox", options(128, 128, 1)).unwrap()).2;
        let b = decode(&render_png("a red fox", options(128, 128, 2)).unwrap()).2;
        assert!(mean_difference(&a, &b) > 12.0);
    }

    #[test]
    fn picture_has_structure_not_noise() {
        // Neighbouring pixels of a painted scene are close; in noise they are not.
        let (w, _, pixels) = decode(&render_png("a red fox", options(256, 256, 0)).unwrap());
        let row = w as usize * 3;
        let vertical_steps: Vec<u64> = pixels
            .chunks(row)
            .zip(pixels.chunks(row).skip(1))
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| u64::from(x.abs_diff(*y))))
            .collect();
        let mean_step = vertical_steps.iter().sum::<u64>() as f64 / vertical_steps.len() as f64;
        assert!(mean_step < 6.0, "mean step between rows {mean_step:.1}");
        // ...and it is not a flat fill either: many distinct colours.
        let distinct: std::collections::HashSet<&[u8]> = pixels.chunks(3).collect();
        assert!(distinct.len() > 500, "only {} colours", distinct.len());
    }

    #[test]
    fn prompt_is_embedded_in_the_png() {
        let bytes = render_png("ünïcødé 🦊", options(64, 64, 0)).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let reader = decoder.read_info().unwrap();
        let texts: Vec<String> = reader
            .info()
            .utf8_text
            .iter()
            .filter_map(|chunk| chunk.get_text().ok())
            .collect();
        assert_eq!(texts, ["ünïcødé 🦊"]);
    }

    #[tokio::test]
    async fn model_client_reports_png_and_its_name() {
        let image = StubModel
            .generate("a red fox", options(64, 80, 3))
            .await
            .unwrap();
        assert_eq!(image.content_type, "image/png");
        assert_eq!(image.model, "stub-v1");
        assert_eq!(StubModel.model_name(), "stub-v1");
        assert_eq!(decode(&image.bytes).0, 64);
        assert_eq!(
            image.bytes,
            render_png("a red fox", options(64, 80, 3)).unwrap()
        );
    }
}
