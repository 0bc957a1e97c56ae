//! Renders a prompt with the stub model into a local PNG, to preview what the Lambda stores:
//! `cargo run -p image-generator --example render -- "a lighthouse at dusk" out.png [width height seed]`.

use image_generator::GenerateRequest;
use image_generator::model::ImageOptions;
use image_generator::model::stub::render_png;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [prompt, out, rest @ ..] = args.as_slice() else {
        return Err("usage: render PROMPT OUT.png [WIDTH HEIGHT SEED]".into());
    };
    let number = |i: usize| rest.get(i).map(|s| s.parse::<i64>()).transpose();
    let request = GenerateRequest {
        prompt: prompt.clone(),
        width: number(0)?,
        height: number(1)?,
        seed: rest.get(2).map(|s| s.parse()).transpose()?,
    };
    let spec = request.validate()?;
    let png = render_png(
        &spec.prompt,
        ImageOptions {
            width: spec.width,
            height: spec.height,
            seed: spec.seed,
        },
    )?;
    std::fs::write(out, &png)?;
    println!(
        "wrote {out} ({} bytes, {}x{})",
        png.len(),
        spec.width,
        spec.height
    );
    Ok(())
}
