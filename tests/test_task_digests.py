"""Fixed digests of generated tasks and of seed derivation: data can never change silently.

Each pinned value was computed once and written here as a literal. A change to a family that
alters any task's JSON (state, prompts, tools, reference, verifier spec, metadata), or which
draws are discarded, fails here. When a change of data is intended, regenerate the values
with `python tests/test_task_digests.py` and say so in the change.
"""

from __future__ import annotations

import hashlib
import sys

import pytest

from synth.env import canonical_hash, family_names, get_family
from synth.seeding import derive_seed

SEEDS = (0, 1, 1305629241918399512)  # the last is derive_seed(11, "pinned", 0)
SWEEP_SEEDS = range(40)

PINNED: dict[str, dict[int, tuple[str | None, ...]]] = {
    "airline": {
        1: (
            "217d5dde21638b0189e4916d0e5fc40b73aba30b11a095579038578a8ce0ced4",
            "8e99328c41ebb6fe6e0be95669e3c3ab880c7da29b963b84049cbbba3f3c7515",
            "696605753a2a23aeaef2a3903e2421e2e1d8007a9f362c8a3be25f2c3b34ed12",
        ),
        2: (
            "aee371f9c36f003d3b35769249a41819df0574ec484fa1472e74c20a29cc6836",
            "a652a93021ccc618cd8cc1e0e5fd00dbc85e492b24cc274be80252be3736183f",
            "da355703f71414e4531c7961e40ca04432945e2c9a56731bbcd527925bc9ab74",
        ),
        3: (
            "42312133e6f70f82a7d30c22578d56bd294b1db771ef948a8e0d7dd738c1a570",
            "e9e0dd721cc128581436bab8fc667b3eeeec5ead2bb76b8ea8e3f62377b2f27c",
            "105c155536b3d2d3f05539f02258a58c33204463cfb19ba0d066f0396466379f",
        ),
        4: (
            "0a89e6b7000402bff4e497bf986c65118d400ce4856a4cab99cf7010a2cd47ec",
            "424808a2fce947b5ccd481a032b5ed1fd39d75610dcfa549954c623546ed2928",
            "0f1829ba827f56254892c1a090a3d80d422ee0f3587bea7ac20740fb1974d727",
        ),
        5: (
            "fdaec3291d13364ebe11f7075a9b046469bd77ae05064dc44ce0b72b15f80896",
            "b23c1d74daf10d9074f4f08eb78a5a782b039c3df8d8664311805f08bcb05414",
            "eb0deebf2927f6cc4524b8894481ae922f8df415291f1c49ffc7c64b2b8a01bf",
        ),
    },
    "bank": {
        1: (
            "af0df8bd9fa3431fe5f5b86bf84bc3fd9a6df9d68e1530caca2ce651c1e75309",
            "e18bbbf0e510fbb70ccce653b3f883db3cbeead6ce8040716326a5ca068db54a",
            "995e2bf3fc7c9e01c5ca96a048ecc5a5312ba464a119cb9d43f6242ef142248b",
        ),
        2: (
            "f6dab34a8eae3129f3372176ab9271a63137e3658c5e842cbf1c47ee6d474d6c",
            "abd6528ffd56eaa91848bb9f7985a7b9162ba7ffe41bba849fc33814bf210ea7",
            "a9012fc9a281861761013eef318f9ec997754c815b5e884d2a15420f9a4d9f80",
        ),
        3: (
            "08f871b58a3a710e2444b32cb9a09173a51dbc1e38e5f51cfd6d40e42f3e9f36",
            "0ac7bc7bf8d76f81d7550718f6cc001d8b3ef8e761ee5e19ba52caeb3dbc6930",
            "1237d20552674951520a6f57f490fcdbe8cd7a86c4de117547a7aabd6242cf10",
        ),
        4: (
            "891cbbf2ac1e333c602a5eb55927cfd52fc959269f3777ae9dc49664297ab4dc",
            "b9ef4c694da5b99e0a9bbddb0844e5c4f093f66864abd655649a771218a70bab",
            "2d627e293adb661a994b63c4a37fdce49ba589e9d99818fe957dc033d0139032",
        ),
        5: (
            "82c1401c2e674799a31ee4a51dd3691af9b09ee659306f2d92f91a49c03f3c04",
            "6a3f51cd65069aae2bebf825fb93c11312fed3d5394d9b6508fd759e15831bc6",
            "adfef34042d1dc846eeff1e004275f2a6f37a198467cad3adb135c31ef6aa636",
        ),
    },
    "calendar_scheduling": {
        1: (
            "22b1cfe3017f1424875f3dad33a5179a9f8d3ded5c2e5325d0519efd07a20ab9",
            "d29e75247856e987fafd1ac715087aafaefb1ffaef974d901023cd50f10add41",
            "49eda8a7c3565cb6a41816ea4000328a16c261ee39fed7ba6e607f82df907c41",
        ),
        2: (
            "5b6d185eeee14b643a3af550d9666b68ed96a9902879056790bae9a5dc0c1e74",
            "9c81c5b1fa34e520fedbe83d4a13bde226a51c0aa38a2d669db57b21c6241a8a",
            "22f5ede7ff2c0baaea26264721986c20deead5bb7566f523c3f53f87cab5cfa0",
        ),
        3: (
            "37b83c3675061d221775d20a6eb9ff17c27b85648582a273f6f2bdd6a2129345",
            "21080f3984ba9205c136b3a39ff3668d8cfeaf2ce26dcd37a2ea2e41dc4d3abc",
            "e4df35df10b3e9e60f8bd53e9c98e3ba6fd89d1ddb15739f9945e2710b47d13d",
        ),
        4: (
            "06b2a0fb434f1aa026fbfea3f901c4f8278e473f8a63567577a2586df696f9e0",
            "6e011ff132aa016cde2e4ac15c8c51fe7b12707e38ba1a680829e2af30e44d4e",
            "b063f021f85169dab79ca415b854e2e94d088943dd42b8d255437c6a3f6a4435",
        ),
        5: (
            "61ab8c252611397aed6f7c7cdfdd386f12466679936f0f030eb4519ca6812a20",
            "1427ac6808231b88779197599afb971c362e187c18dff0ac91f4c51fcb6c3102",
            "eb785d754dbf44c89e470df2afea3cb364e1ae349bda1b8c63bf602eb89a5fa6",
        ),
    },
    "library": {
        1: (
            "e900ac48a8e9e744445f3e128199432e49a4373028bc628cf0b91b96d2415486",
            "c90bd4aa4582d85727794510ca870a2bb6e761869d540a0b60bf748f8e3262b8",
            "d10e976cce590014eda2518bdea56b1cf9ab4e492fa0ec7bca45bfecc56045c6",
        ),
        2: (
            "48df2bebef6b2ce495b9ad16176e429a6001873a77763b88a6f8b370a5b2a190",
            "0a44f7e502bd5490942d59796351e1c1f5a34d2015e073148ca62421c47563dc",
            "f39fe7da3435a15d3e824d2d873a81b6f32a0e935e8cbe63a841e04c3628c231",
        ),
        3: (
            "5d9ec7b4e891980c323341892ba03e02a6b02490da923cece852c5c6443061ac",
            "3055e8c1e421827571e00e87ca4234d6c36959be7f4f125b4d85670c6ecb89a7",
            "3e3e02a29c94896c74f6ced1683c53577e34ec9989fa30dc09a377b2bc9222d2",
        ),
        4: (
            "1787f3b2120ce5454e1812511e78b7ed3797ba92de8b718f314272d5e66cbecb",
            "75b6fe2b40f5b1dec52a14c6f9393d8bc39981877bcc7740050079cec1f1f11d",
            "f1692a6721a847f374c733287aa7c61283ec16f9bcfb2f6dd42bf33d3bf8ccf4",
        ),
        5: (
            "97ba1d53d2bc46ae69ce30ccc0e18bde72c5950b7c03130b660bfa71a2e6f6be",
            "125ecf37ba74c4ad67d596a807229c6837537eb116f0be336a71de601619ff40",
            "8ba4b3afdd532c7cce0872b50e14006449284225f629c404e619fe3521456f1b",
        ),
    },
    "meal_planning": {
        1: (
            "36f242dae4a0ebe2d6d7aad517d5fdc338bed1add20953a3edf89aca1ba69321",
            "4de8b655d9ff765d3352db007d8e51c816389c540a474d0e7872987d5efdf28c",
            "641e480a1fefe54f910ba6520a3c1d59dd4f29b41494cbbe16d139df8f088757",
        ),
        2: (
            "df215597fbc6c0ce204096ad1d70c03f4f7506a5febf51633607b1451261c2d4",
            "c3186ffa5c093dd5674557908a530dae9ccb4769aea80d9f87c20fd53ea55845",
            "425743950e7e3327539c4112e2a594fb05758b1c384413ce621ead615a6b7cd5",
        ),
        3: (
            "6a84f3e51c1c655b4d49e50a4234822d4fa0887dbeffaacb02a5bf96e7b63d88",
            "e1530269eb22ff4e8e4b0c45b4fb47635a91da52b2c835ffd940bdce9427d1e1",
            "45d3f934bd1c40977611b0d59f19be25567d339ac9d2bcebb1e0cf16f47ddf3b",
        ),
        4: (
            "aa3c3afa6ac55956729c5853e0ec5bc2e1df89fbe7885e26cc69ed050e4a07c0",
            "0d442ca4378af327fe19f34c3b07061019c22a140161ffbc1a8c824e23c7468d",
            "91aaad8dfbfebae445bda5a52b1d151413464de358398232e33aa542423bee36",
        ),
        5: (
            "c6fac255313e1d6b46b2bb8b34e34c52b2cbc8b44ad05277ccb3997162104bfd",
            "3b72dbbd8359916c6c818e62151723a14e794965ab19290ed82435127c012522",
            "c95b56afb820b42c5e6b868c53c3ae7f6ff91b59b9240511bb58174bed4f8821",
        ),
    },
    "retail": {
        1: (
            "1975abe71c9cb755bb1bd62469827124d4d67d0e481ff1aa745f941dc119e301",
            "70b462816ce3ff1e724ffac346cf41c6745a82ae0af50408c30be64dc861d9ba",
            "c74bac9100cd030a23caae38c1e1851effef348e0f2288b228e8423cdaef836d",
        ),
        2: (
            "e01b73cca9ce158382be0c85ee78f5b05484d097d29259c75bf66743d1358539",
            "e6750a340a2fc148573793bc8d11ada867165fff431a3527755ba6045a8e81ec",
            "747247fb9b07e863be87f28220664e809de5121c687cd1d2ab8205610d9f3825",
        ),
        3: (
            "32c0be6ef43cb713c3999340ece7d977d3f6baf4f7461a1c1ab8a317e03f014c",
            "12365d749a27eb49ff181666bb1d4ec877c44daeddf98b6f8f261c3388d215d7",
            "2f585f1cbe12bfbc2771a91c60784a2f1f0a1c1180438644cbf7a031c2ac91a2",
        ),
        4: (
            "0d8bb71a030cb6d1e450b6e2298e6e426d28d4766d51acc687796947bbdac053",
            "54986560cba34b0ff1a4a290a186045e0c34abf4386e321d4deab81c230218d6",
            "dc8853835b19161c594594891fc90cd84e2ceff3ffce004006d0839ecf320ca9",
        ),
        5: (
            "32d70bdfcb0ab724633f2d4405af43c6174d7b55af0b363dd7768728eafbb130",
            "7adff8d6e53cb6fb0544b2af2a752cfca11189f72fed4b7930ca5ab6450c8359",
            "d2d4e28b348553388c833b8bc2140e144f3c2a74ab1b6e78d37ddadff22ed0f5",
        ),
    },
    "search": {
        1: (
            "2858d30366fa4619971c94f7b02de4638b4052507252d403001ac0a8fbe61cb6",
            "75ee6f1e4e294ba6dd907c449510ac1b5265e588d4da33ae88b411c8a3d61b4e",
            "bc46890d07d51105ed9c94339e8a37002ce1b3ab7e5482c46b14c82dd1903a3a",
        ),
        2: (
            "7d2425615b0a6f3663f5e269cc02bfacd3920800df1badba572d9912e0edf5a4",
            "68b60ed5bf98091a8c6a327f058f787f58685e944d5109287c9f7a799c2d615f",
            "418e89f5c065644767189c077f9c42f569b638c56ef12b004a726ec6d70e8608",
        ),
        3: (
            "806955e8a07660038b429ad2c16548f9f71ef2700aa130846537489f6054dc61",
            "539ec8f0419d0dc909cd76d45a66a02e44cad08d5f038960fdea543b9683813b",
            None,
        ),
        4: (
            "d6e4810d4921a06a006df1331322e73095ac10c92323f5749db63280a0d2a6d8",
            "c5b075c170b5c150a14fbb21eebfc9e9bf87d98db722c905102e7d26c3ea8d15",
            "faf7663b9af46433c8f15032b59a613fb69ea81d4ae41c333ba333819cbc26d7",
        ),
        5: (
            "5c1d1693c270517ba0b82f96134bba566b4b2f70abe5b2e2eca68232d5ef449a",
            None,
            "6f3288340181da55f76841660913491080041b9a14f402eb9caa0baf693cbe4e",
        ),
    },
    "travel": {
        1: (
            "ac97024ce4ac8366d97421161c45a6e1c13ce87d7120d80c5162c5f7eec41d0c",
            "a24b56b02b055fe5cc1047aa1ecdfd6bbd7ee5cbb4bb323cc4a0e47ba229ce0a",
            "6647f64f74694db880032f2cff4a28ee190806c90d8ee55437c52afb9bb062a2",
        ),
        2: (
            "0242590fe75888e5f23dca042eb91757abb4d459fe107df7112dfc325d07c387",
            "fa50c1cc9e264938faf42c1e28c0f212f840fe237492685aa8ab198f31de095a",
            "28d1611c3172cfadfcbb0cc6c83a96b4465150326eeef4fd3f87060468f13736",
        ),
        3: (
            "e46497706c3e0b4e6a23c64b104977290299350393bd25501c0ae639b48625bc",
            "39f3267049ee75e557abceee33cc460f1dd83216fc9d2e45e9e0180c3a5d5a7c",
            "b9c45b4ee6cac164f35718b5872cfdc39e600c5c307cb9b6599d28d9058a1743",
        ),
        4: (
            "178ff80c9325fd13271a8788b34af43c51c71bfdec0c3893f2aa57555165cb2f",
            "5d6ba72facc93385d0b823ac80062477a2f84a7cad278fa6197414f31f442b9e",
            "f901b79309dbad78f6c778bc0c4cdf7734ae0dcd8083a8fae9f00ed175661313",
        ),
        5: (
            "92f0cc97a061952972ec8dd31de81f9d6ed5b9592dc10aa1cd10cd0b86dae779",
            "7ef037bae354c690961e6c48f6163dc1d9728cbf24ff1691cec66ed3f3581d25",
            "7e4e79f43fd3daf2f8d4eef232b56e7bc5f968bda80c1e6065486939e5095df9",
        ),
    },
    "warehouse": {
        1: (
            "24dd3eda1b55b1d794a8cb2bb720db82b223f98d0e1bdb730aa2e3cde9b789a6",
            "40af9033e3f20fdb39d98b00a41e07215410d030371ac4ccd9e9079a0327892b",
            "a57f960882f0753784891d9d9863df8044e843549aba1b332b062f17c67fa35c",
        ),
        2: (
            "d60016c715752549900a5f87d36ece03f782e294c9df9ae6910083aa0b795548",
            "27094e2e0b1fed53564d940363e7c5f662c25c92f37c2fb198612d1865cc9515",
            "3c7bb18987ab7d66a6cac7da13ef9be6b9974d4d59fdc52c3b37ee1b148c2d54",
        ),
        3: (
            "0e05412a1b183e5a8ab15f04c6099fd7a98ffc85d242f2fd4049e08c47c6a14f",
            "f2d2917aafcf7a7cbc47c9254a6a07ada10bc82591e592efbb1b8231b84eaa04",
            "5e22a9cd4b05ac3a400570158f8a9ce1fd7b4f0d11aa803949ccc8a594646dbd",
        ),
        4: (
            "0b885705efaa2caa7ca48e12e85269b46abd8b3c28a9115a513b9be744941428",
            "670d6b96b2cfbddb8557aba4f123c92c7e3d59ecb7bff4dfb2cd5489651abbe9",
            "8bb19bf6c97716b3f7736118197fddc9d5df4b97c5b5f584776e2e979e585e76",
        ),
        5: (
            "804a112aad67c1fdb37500db451908cbc62b8736b3c975b09e93bb207f0392b4",
            "672be4ca3d7b4976b9adcb8a765f52c35be2ef31ea274a8b05ef819c7b28df4b",
            "6526218110b4958584194bf3882933438e17230169124bae1113f72d066a6fea",
        ),
    },
    "workspace": {
        1: (
            "dcafa5257ca387f5c07c3a0411b80ee75a2f3fd1a479b5991867a58e9ab36f90",
            "273e76c3e5cde29ce0d795cfcb0b1ba0f1d3528d572451485ed3382415dbc11c",
            "022bdc8ea0102a04b388e88371763e0b4fd67291cdadbb64984c9e4b016cdd24",
        ),
        2: (
            "3529e5d7cf18be82d299b2ef90acacd2f1127e9985379496df58a5f68ff7db52",
            "08b0fabc52badb6bf7514b6096c20655c6750f3d940fd17aceda34cf81e915d3",
            "858f254dfc227ab603cb21df47b463e49f8eeb3548d8e86ce3ab44efb499ea4f",
        ),
        3: (
            "e44c2b65e1b84c4121ca15bc3168eb5621a28ddd03807823c1261a2c039ee56f",
            "ca706abbcf3e4defe559dc49be004f5fb2fdb130de45e80ce484be51a8cd0820",
            "2338e2e092036a5c0a17a3d6c8369bca136876d0e17e5e832f990fa2c7b5cd28",
        ),
        4: (
            "0029b91c258b5f55bbabb92e56cee55e6e66e9208b77866da15809e4c00f22a1",
            "54fc36abfe3a5c928b6fa5d22de601931c6c389df336aaf9d61d57db686d9dd2",
            "20c73160d0177be04b238e9c59fc884f904501d66cc40bff580f4dc3f77949db",
        ),
        5: (
            "7be57edbc99685fe056213756101a6af76d7c62ce46166423c74d53c7f9beadb",
            "78e0c4c7755340c3930c55ffcdd6bcdbe7c085a15b2b255612c0a117329fc5bb",
            "9bdd88739387d1dfbc78dfd8a081cf29e5830bc69bcb0b3a46b7802e14f0d401",
        ),
    },
}

#: sha256 over the task digests (or discard reasons) of seeds 0..39 at every level
SWEEPS: dict[str, str] = {
    "airline": "c848c1a8dfeb738e110518a24a7189a4d4e6efd18266bc842eb0dcd2cb1eaa8e",
    "bank": "26c7950d1bdcdb5ad0945cf7a673fcf51069148b4e5499c1f3124c2d02845055",
    "calendar_scheduling": "6a215c481023f67b19d8db874f186dc07f921945612ddd0252e61fe4174a317b",
    "library": "49d7b24700187ce34146e9092883177b1f8ce8f557e8c906b4b229066281b016",
    "meal_planning": "176c868523f5a47aab9b8648a0b39dcee1ef3cb53fe3a8924d3828062e873bc3",
    "retail": "b27fda0c14b0f19f253b1d0de7edb306908f25a046f50d19f80a7c6c3e847a4d",
    "travel": "4e4fe929b22895491331c8bb4efd7c9e2ce180ab4c21652a0bd135b5707d4a04",
    "warehouse": "5cbb90162e2363d7e87fb636b85e8d0aa9507dd90e72faa1a6283da4712dd830",
    "workspace": "58d94cd4e87f17ff2c05d546b0401039f0724fe8cf4a124a0c1cd81b4c264564",
}

DERIVED_SEEDS = [
    ((0,), 3456079177858693020),
    ((11, "bank", 0), 8631572439853439294),
    ((11, "retail", 287), 1323578408039421253),
    ((2**62, "x", -1, 3.5), 3984256686631997298),
    (("job", "family", ""), 1477756819770435276),
    ((11, "pinned", 0), 1305629241918399512),
]


def task_digest(name: str, seed: int, level: int) -> str | None:
    """sha256 of the task's canonical JSON, or None when the draw is discarded."""
    generated = get_family(name).generate(seed, level)
    return canonical_hash(generated.task.to_json()) if generated.task is not None else None


def sweep_digest(name: str) -> str:
    """One digest over many draws of a family, discards (with their reasons) included."""
    family, digest = get_family(name), hashlib.sha256()
    for level in family.levels:
        for seed in SWEEP_SEEDS:
            generated = family.generate(seed, level)
            text = (canonical_hash(generated.task.to_json()) if generated.task is not None
                    else f"discard:{generated.discard}")
            digest.update(text.encode())
    return digest.hexdigest()


@pytest.mark.parametrize(("parts", "expected"), DERIVED_SEEDS)
def test_derive_seed_is_fixed(parts: tuple[object, ...], expected: int) -> None:
    assert derive_seed(*parts) == expected


def test_every_procedural_family_is_pinned() -> None:
    procedural = [n for n in family_names()
                  if type(get_family(n)).__module__.startswith("environments.")]
    assert sorted(procedural) == sorted(PINNED), "pin the digests of every built-in family"
    for name in procedural:
        assert sorted(PINNED[name]) == sorted(get_family(name).levels), name


@pytest.mark.parametrize("name", sorted(PINNED))
def test_task_digests_are_fixed(name: str) -> None:
    found = {level: tuple(task_digest(name, seed, level) for seed in SEEDS)
             for level in PINNED[name]}
    assert found == PINNED[name]


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_sweep_digests_are_fixed(name: str) -> None:
    assert sweep_digest(name) == SWEEPS[name]


def _print_pins() -> None:
    """Print the current values in the form of PINNED and SWEEPS (for an intended change)."""
    for name in family_names():
        levels = {lv: tuple(task_digest(name, s, lv) for s in SEEDS)
                  for lv in get_family(name).levels}
        print(repr(name), levels, repr(sweep_digest(name)), file=sys.stdout)


if __name__ == "__main__":
    _print_pins()
