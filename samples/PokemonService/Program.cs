// A web service over one trained PokeClassifier model: POST /predict (image bytes or a multipart form file) -> JSON top-k,
// GET /health, and a page at / to drop an image on. See README.md beside this file.
//
//   dotnet run --project samples/PokemonService -c Release -- --Model:Path model.zip --urls http://127.0.0.1:5080
PokemonService.ServiceApp.Build(args).Run();
