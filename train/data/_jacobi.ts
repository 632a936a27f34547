// Private: eigen-decomposition of a symmetric 3×3 matrix by cyclic Jacobi rotations.

/** Eigenvalues (descending) and unit eigenvectors (`vectors[i]` belongs to `values[i]`). */
export interface Eigen3 {
  values: [number, number, number];
  vectors: [number[], number[], number[]];
}

/**
 * Eigen-decomposes the symmetric 3×3 matrix `m` (row-major, 9 numbers). Each eigenvector's
 * sign is fixed so that its largest-magnitude component is positive (deterministic output).
 */
export function symmetricEigen3(m: ArrayLike<number>): Eigen3 {
  const a = [[m[0], m[1], m[2]], [m[3], m[4], m[5]], [m[6], m[7], m[8]]];
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      const s = (a[i][j] + a[j][i]) / 2;
      a[i][j] = s;
      a[j][i] = s;
    }
  }
  const v = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]; // columns are eigenvectors
  for (let sweep = 0; sweep < 64; sweep++) {
    const off = a[0][1] ** 2 + a[0][2] ** 2 + a[1][2] ** 2;
    const scale = a[0][0] ** 2 + a[1][1] ** 2 + a[2][2] ** 2 + off;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < 2; p++) {
      for (let q = p + 1; q < 3; q++) {
        if (a[p][q] === 0) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < 3; k++) { // A ← Jᵀ A J
          const akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < 3; k++) {
          const apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 3; k++) { // V ← V J
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = [0, 1, 2].sort((i, j) => a[j][j] - a[i][i]);
  const values = order.map((i) => a[i][i]) as [number, number, number];
  const vectors = order.map((i) => {
    const col = [v[0][i], v[1][i], v[2][i]];
    let big = 0;
    for (let k = 1; k < 3; k++) if (Math.abs(col[k]) > Math.abs(col[big])) big = k;
    return col[big] < 0 ? col.map((x) => -x) : col;
  }) as [number[], number[], number[]];
  return { values, vectors };
}
